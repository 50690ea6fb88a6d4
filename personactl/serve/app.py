"""`personactl serve`: a local Tavus-compatible API (personas, conversations) over SQLite.

`/v2/pals` is `/v2/personas` in the PAL vocabulary (`pal_id`, `pal_name`, `pal_type`,
`default_face_id`, `face_interruptibility`; personactl.compile.vocabulary), over the
same store: a PAL created there is a persona here, as on the platform.

Besides the /v2 endpoints it offers test controls outside /v2, without auth:
`GET|POST /_faults` (inject latency, 429s, 5xx, lost create responses; a POST merges
the given settings and restarts the RNG from `seed`) and `GET|DELETE /_stats`
(/v2 requests received per method and route, for benchmarks; DELETE resets).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import os
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from personactl.compile.vocabulary import as_api, patch
from personactl.kinds import PALS, Api, personas_kind
from personactl.serve.store import NotFound, Store

FAULTS_ENV = "PERSONACTL_SERVE_FAULTS"
MAX_BODY_BYTES = 1024 * 1024  # a persona is a few kB; the real API caps bodies too
MAX_DEPTH = 64  # as personactl's own YAML
MAX_LIMIT = 10_000
MAX_PAGE = 1_000_000_000
DROP_MODES = ("502", "abort")


@dataclass
class Faults:
    """Misbehaviour to inject into /v2 requests; shares are probabilities in 0..1."""

    latency_ms: float = 0.0  # added to every request
    rate_429: float = 0.0
    rate_5xx: float = 0.0  # answered 500, 502 or 503
    retry_after: float = 1.0  # seconds, sent on 429s; fractions allowed
    # share of persona creates that ARE performed but whose response is lost:
    # "502" answers 502, "abort" closes the connection mid-response
    drop_create_response: float = 0.0
    drop_mode: str = "502"
    fail_next: list[int] = field(default_factory=list)  # statuses for the next requests, FIFO
    envelope_get: bool = False  # GET one persona answers {"data": [persona]}, as docs show
    seed: int | None = None  # for a deterministic RNG

    def __post_init__(self) -> None:
        for name in ("rate_429", "rate_5xx", "drop_create_response"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.rate_429 + self.rate_5xx > 1.0:
            raise ValueError("rate_429 + rate_5xx must not exceed 1")
        if self.latency_ms < 0 or self.retry_after < 0:
            raise ValueError("latency_ms and retry_after must not be negative")
        if self.drop_mode not in DROP_MODES:
            raise ValueError(f"drop_mode must be one of {', '.join(DROP_MODES)}")
        if not all(isinstance(s, int) and 100 <= s <= 599 for s in self.fail_next):
            raise ValueError("fail_next must be a list of HTTP status codes")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:  # a value of the wrong type, e.g. a string rate
            raise ValueError(f"invalid fault settings: {exc}") from exc

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Faults:
        """Faults from the JSON object in $PERSONACTL_SERVE_FAULTS (none when unset)."""
        raw = environ.get(FAULTS_ENV, "").strip()
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{FAULTS_ENV} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{FAULTS_ENV} must be a JSON object of fault settings")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Dropped(Exception):
    """Raised after the response started, so the server closes the connection."""


class _AbortResponse(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
        )
        raise _Dropped("create response dropped on purpose (fault injection)")


def _error(status: int, message: str, key: str = "error") -> JSONResponse:
    return JSONResponse({key: message}, status_code=status)


class _Control:
    """Per-app mutable state.  Only touched on the event loop thread, so no lock."""

    def __init__(self, store: Store, api_key: str | None, faults: Faults) -> None:
        self.store = store
        self.api_key = api_key
        self.stats: Counter[str] = Counter()
        self.set_faults(faults)

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)

    def chance(self, share: float) -> bool:
        return share > 0 and self.rng.random() < share

    def injected(self) -> Response | None:
        """The fault answer for this request, if one is due."""
        f = self.faults
        status: int | None = None
        if f.fail_next:
            status = f.fail_next.pop(0)
        elif f.rate_429 or f.rate_5xx:
            draw = self.rng.random()
            if draw < f.rate_429:
                status = 429
            elif draw < f.rate_429 + f.rate_5xx:
                status = self.rng.choice((500, 502, 503))
        if status is None:
            return None
        if status == 429:
            response = _error(429, "Too many requests", key="message")
            response.headers["Retry-After"] = f"{f.retry_after:g}"
            return response
        return _error(status, "injected fault")

    def dropped_create(self) -> Response | None:
        if not self.chance(self.faults.drop_create_response):
            return None
        if self.faults.drop_mode == "abort":
            return _AbortResponse()
        return _error(502, "Bad Gateway")


Handler = Callable[[Request, _Control], Awaitable[Response]]


class _TooLarge(Exception):
    """A request body over MAX_BODY_BYTES (413)."""


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


async def _body(request: Request) -> Any:
    size = 0
    chunks = []
    async for chunk in request.stream():  # counted as it arrives: never buffer a huge body
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge(f"the request body is larger than {MAX_BODY_BYTES:,} bytes")
        chunks.append(chunk)
    try:
        # NaN and Infinity are not JSON: stored, they would break every later list
        value = json.loads(b"".join(chunks), parse_constant=_not_json)
    except RecursionError:
        value = None  # deeper than Python's own limit: refused below
        depth_ok = False
    except ValueError as exc:
        raise ValueError(f"the request body is not valid JSON: {exc}") from exc
    else:
        depth_ok = _depth_ok(value)
    if not depth_ok:
        raise ValueError(f"the request body is nested deeper than {MAX_DEPTH} levels")
    return value


def _depth_ok(value: Any) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, depth + 1) for child in children)
    return True


def _int_param(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer") from exc
    if not 1 <= value <= maximum:  # SQLite integers are 64-bit: an overflow is a 400
        raise ValueError(f"{name} must be between 1 and {maximum:,}")
    return value


def _api_of(request: Request) -> Api:
    """Which vocabulary the request's route speaks: /v2/pals or /v2/personas."""
    return "pals" if request.url.path.startswith(PALS.collection) else "personas"


async def list_personas(request: Request, ctl: _Control) -> Response:
    api = _api_of(request)
    # Tavus defaults: 10 per page, page 1
    limit = _int_param(request, "limit", 10, MAX_LIMIT)
    page = _int_param(request, "page", 1, MAX_PAGE)
    type_field = personas_kind(api).type_field or ""
    persona_type = request.query_params.get(type_field)
    if persona_type not in (None, "user", "system"):
        raise ValueError(f"{type_field} must be user or system")
    items, total = await run_in_threadpool(ctl.store.list_personas, limit, page, persona_type)
    return JSONResponse({"data": [as_api(p, api) for p in items], "total_count": total})


async def create_persona(request: Request, ctl: _Control) -> Response:
    api = _api_of(request)
    body = as_api(await _body(request), "personas")
    persona = await run_in_threadpool(ctl.store.create_persona, body)
    return ctl.dropped_create() or JSONResponse(as_api(persona, api))


async def get_persona(request: Request, ctl: _Control) -> Response:
    api = _api_of(request)
    persona = await run_in_threadpool(ctl.store.get_persona, request.path_params["persona_id"])
    if persona is None:
        raise NotFound("persona not found")
    persona = as_api(persona, api)
    return JSONResponse({"data": [persona]} if ctl.faults.envelope_get else persona)


async def patch_persona(request: Request, ctl: _Control) -> Response:
    api = _api_of(request)
    persona_id = request.path_params["persona_id"]
    ops = patch(await _body(request), "personas")
    changed = await run_in_threadpool(ctl.store.patch_persona, persona_id, ops)
    if not changed:
        return Response(status_code=304)  # "No changes were made to the persona"
    return JSONResponse(as_api(await run_in_threadpool(ctl.store.get_persona, persona_id), api))


async def delete_persona(request: Request, ctl: _Control) -> Response:
    if not await run_in_threadpool(ctl.store.delete_persona, request.path_params["persona_id"]):
        raise NotFound("persona not found")
    return JSONResponse({"message": "persona deleted"})


async def create_conversation(request: Request, ctl: _Control) -> Response:
    url_base = f"{request.base_url}c"
    body = await _body(request)
    return JSONResponse(await run_in_threadpool(ctl.store.create_conversation, body, url_base))


async def get_conversation(request: Request, ctl: _Control) -> Response:
    conv_id = request.path_params["conversation_id"]
    conversation = await run_in_threadpool(ctl.store.get_conversation, conv_id)
    if conversation is None:
        raise NotFound("conversation not found")
    return JSONResponse(conversation)


def _api_route(ctl: _Control, path: str, method: str, handler: Handler) -> Route:
    """Wrap a handler with counting, auth, fault injection and error mapping."""

    async def endpoint(request: Request) -> Response:
        ctl.stats[f"{method} {path}"] += 1
        if ctl.api_key is not None:
            given = request.headers.get("x-api-key", "").encode()
            if not hmac.compare_digest(given, ctl.api_key.encode()):
                return _error(401, "Invalid access token", key="message")
        if ctl.faults.latency_ms:
            await asyncio.sleep(ctl.faults.latency_ms / 1000)
        fault = ctl.injected()
        if fault is not None:
            return fault
        try:
            return await handler(request, ctl)
        except NotFound as exc:
            return _error(404, str(exc))
        except ValueError as exc:
            return _error(400, str(exc))
        except _TooLarge as exc:
            return _error(413, str(exc))

    return Route(path, endpoint, methods=[method])


def _control_routes(ctl: _Control) -> list[Route]:
    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = await _body(request)
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object of fault settings")
                ctl.set_faults(Faults.from_dict({**ctl.faults.to_dict(), **changes}))
            except ValueError as exc:
                return _error(400, str(exc))
            except _TooLarge as exc:
                return _error(413, str(exc))
        return JSONResponse(ctl.faults.to_dict())

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            ctl.stats.clear()
        return JSONResponse({"total": sum(ctl.stats.values()), "requests": dict(ctl.stats)})

    return [
        Route("/_faults", faults, methods=["GET", "POST"]),
        Route("/_stats", stats, methods=["GET", "DELETE"]),
    ]


def create_app(store: Store, api_key: str | None = None, faults: Faults | None = None) -> Starlette:
    ctl = _Control(store, api_key, faults or Faults())
    routes: list[Route] = []
    # Tavus now also calls personas "PALs"; both spellings reach the same handlers (which
    # answer /v2/pals in the PAL vocabulary).
    for base in ("/v2/personas", "/v2/pals"):
        one = base + "/{persona_id}"
        routes += [
            _api_route(ctl, base, "GET", list_personas),
            _api_route(ctl, base, "POST", create_persona),
            _api_route(ctl, one, "GET", get_persona),
            _api_route(ctl, one, "PATCH", patch_persona),
            _api_route(ctl, one, "DELETE", delete_persona),
        ]
    routes += [
        _api_route(ctl, "/v2/conversations", "POST", create_conversation),
        _api_route(ctl, "/v2/conversations/{conversation_id}", "GET", get_conversation),
        *_control_routes(ctl),
    ]
    app = Starlette(routes=routes)
    app.state.control = ctl
    return app


def run(
    host: str = "127.0.0.1",
    port: int = 8787,
    db_path: str | os.PathLike[str] = ".personactl/serve.db",
    api_key: str | None = None,
    faults: Faults | None = None,
    *,
    seed_system: bool = True,
    log_level: str = "info",
) -> None:
    """Serve until interrupted.  Faults default to $PERSONACTL_SERVE_FAULTS."""
    store = Store(db_path, seed_system=seed_system)
    try:
        app = create_app(store, api_key, faults if faults is not None else Faults.from_env())
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        store.close()
