"""`personactl serve`: a local Tavus-compatible API over SQLite (personactl.serve.store).

Every resource kind at its collection (`/v2/personas` and `/v2/pals`, one store;
`/v2/objectives`, `/v2/guardrails`, `/v2/tools`): list (`limit`, `page` — 1-based,
`page=0` is the first page too — the owner filter, `sort`; answered as `limit`,
`page`, `data`, `total_count`), create, get, PATCH (RFC 6902; tools also a partial
object; 304 when nothing changes; 409 `maker_changes` for a persona with a draft
unless `?force=true`), delete.  Plus what the official Tavus CLI calls:
`POST /v2/objectives/validate`, `GET /v2/guardrails/tags`, `/v2/pals/{id}/tools/`,
`GET /v2/faces`; and conversations.  Collections answer with and without a
trailing slash.

Besides the /v2 endpoints it offers test controls outside /v2, without auth:
`GET|POST /_faults` (inject latency, 429s, 5xx, lost create responses, PAL Maker
drafts; a POST merges the given settings and restarts the RNG from `seed`) and
`GET|DELETE /_stats` (/v2 requests received per method and route, for benchmarks;
DELETE resets).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import uvicorn
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from personactl.kinds import GUARDRAILS, OBJECTIVES, PALS, PERSONAS, TOOLS, Kind, KindName
from personactl.serve.store import Conflict, NotFound, Owner, Store, check_body

FAULTS_ENV = "PERSONACTL_SERVE_FAULTS"
MAX_BODY_BYTES = 1024 * 1024  # a persona is a few kB; the real API caps bodies too
MAX_DEPTH = 64  # as personactl's own YAML
MAX_LIMIT = 10_000
MAX_PAGE = 1_000_000_000
DROP_MODES = ("502", "abort")
MAX_PAL_TOOLS = 50  # as the platform
# the path parameter of one resource, per kind (`{persona_id}` for /v2/pals too)
_ID_PARAMS: dict[KindName, str] = {
    "personas": "persona_id",
    "objectives": "objectives_id",
    "guardrails": "guardrail_id",
    "tools": "tool_id",
}
_SINGULAR: dict[KindName, str] = {
    "personas": "persona",
    "objectives": "objective set",
    "guardrails": "guardrail",
    "tools": "tool",
}
STOCK_FACE = {"face_id": "r79e1c033f", "face_name": "Stock face", "status": "completed"}


@dataclass
class Faults:
    """Misbehaviour to inject into /v2 requests; shares are probabilities in 0..1."""

    latency_ms: float = 0.0  # every /v2 answer takes at least this long after arrival
    rate_429: float = 0.0
    rate_5xx: float = 0.0  # answered 500, 502 or 503
    retry_after: float = 1.0  # seconds, sent on 429s; fractions allowed
    # share of persona creates that ARE performed but whose response is lost:
    # "502" answers 502, "abort" closes the connection mid-response
    drop_create_response: float = 0.0
    drop_mode: str = "502"
    fail_next: list[int] = field(default_factory=list)  # statuses for the next requests, FIFO
    envelope_get: bool = False  # GET one persona answers {"data": [persona]}, as docs show
    # persona ids given an unsaved PAL Maker draft: their PATCHes answer 409 until forced
    # (taken into the store when set, so GET /_faults lists the drafts still pending)
    drafts: list[str] = field(default_factory=list)
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
        if not isinstance(self.drafts, list) or not all(isinstance(d, str) for d in self.drafts):
            raise ValueError("drafts must be a list of persona ids")

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
        for rid in faults.drafts:  # an unknown id is ignored (POST /_faults refuses it)
            self.store.set_draft(rid)
        self.faults = dataclasses.replace(faults, drafts=[])
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
    raw = b"".join(chunks)
    try:
        # NaN and Infinity are not JSON: stored, they would break every later list
        value = json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        value = None  # deeper than Python's own limit: refused below
        depth_ok = False
    except ValueError as exc:
        raise ValueError(f"the request body is not valid JSON: {exc}") from exc
    else:
        # every level of nesting opens with its own bracket: few brackets, no walk
        depth_ok = raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH or _depth_ok(value)
    if not depth_ok:
        raise ValueError(f"the request body is nested deeper than {MAX_DEPTH} levels")
    return value


def _depth_ok(value: Any) -> bool:
    """Whether nothing in `value` lies deeper than MAX_DEPTH (the root is at depth 0),
    walked level by level over the arrays and objects only."""
    level, depth = [value], 0
    while True:
        children = [
            child
            for item in level
            if isinstance(item, (dict, list))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not children:
            return True
        depth += 1
        if depth > MAX_DEPTH:
            return False
        level = [c for c in children if isinstance(c, (dict, list))]


def _int_param(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer") from exc
    if not minimum <= value <= maximum:  # SQLite integers are 64-bit: an overflow is a 400
        raise ValueError(f"{name} must be between {minimum} and {maximum:,}")
    return value


_KIND = "personactl.kind"  # the scope key of the route's resource kind


def _kind(request: Request) -> Kind:
    kind: Kind = request.scope[_KIND]
    return kind


def _rid(request: Request) -> str:
    return str(request.path_params[_ID_PARAMS[_kind(request).name]])


def _owner(request: Request, kind: Kind) -> Owner | None:
    """The owner filter: `persona_type`/`pal_type` (personas, either route; absent: every
    owner), `type=user|system|all` (the other kinds; absent: user, as the platform)."""
    params = request.query_params
    allowed: tuple[str, ...] = ("user", "system", "all")
    if kind.name == "personas":
        name = "persona_type" if "persona_type" in params else "pal_type"
        value, allowed, default = params.get(name), ("user", "system"), None
    else:
        name = "type"
        value, default = params.get(name), "user"
    value = default if value is None else value
    if value is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}")
    return None if value in (None, "all") else cast(Owner, value)


def _descending(request: Request) -> bool:
    sort = request.query_params.get("sort", "ascending")
    if sort not in ("ascending", "asc", "descending", "desc"):
        raise ValueError("sort must be ascending or descending")
    return sort.startswith("desc")


# The store is called right on the event loop for one resource: each such call takes well
# under a millisecond (WAL, synchronous=NORMAL; a credential's scrypt once per value and
# run, memoised), less than a hop to a worker thread costs.  A call that can take long
# (a list of up to MAX_LIMIT) goes to a thread, so the loop keeps serving meanwhile.


async def list_resources(request: Request, ctl: _Control) -> Response:
    kind = _kind(request)
    # Tavus defaults: 10 per page, page 1 (page 0 is the first page too: the CLI sends it)
    limit = _int_param(request, "limit", 10, 1, MAX_LIMIT)
    page = _int_param(request, "page", 1, 0, MAX_PAGE)
    owner, descending = _owner(request, kind), _descending(request)
    items, total = await run_in_threadpool(
        partial(ctl.store.list_resources, kind, limit, page, owner, descending=descending)
    )
    return JSONResponse({"limit": limit, "page": max(page, 1), "data": items, "total_count": total})


async def create_resource(request: Request, ctl: _Control) -> Response:
    body = await _body(request)
    resource = ctl.store.create(_kind(request), body)
    return ctl.dropped_create() or JSONResponse(resource)


# Persona creates have a handler of their own: tests wrap it to make the API misbehave.
async def create_persona(request: Request, ctl: _Control) -> Response:
    return await create_resource(request, ctl)


async def get_resource(request: Request, ctl: _Control) -> Response:
    kind = _kind(request)
    resource = ctl.store.get(kind, _rid(request))
    if resource is None:
        raise NotFound(f"{_SINGULAR[kind.name]} not found")
    return JSONResponse({"data": [resource]} if ctl.faults.envelope_get else resource)


async def patch_resource(request: Request, ctl: _Control) -> Response:
    kind, rid = _kind(request), _rid(request)
    force = request.query_params.get("force", "false").lower() == "true"
    body = await _body(request)
    try:
        outcome = ctl.store.patch(kind, rid, body, force=force)
    except NotFound:
        raise NotFound(f"{_SINGULAR[kind.name]} not found") from None
    except Conflict as exc:
        conflict = {"conflict": "maker_changes", "message": str(exc), kind.id_field: rid}
        return JSONResponse(conflict, status_code=409)
    if not outcome.changed and not outcome.discarded_draft:
        return Response(status_code=304)  # "No changes were made to the persona"
    resource = ctl.store.get(kind, rid)
    if outcome.discarded_draft:
        resource = {**(resource or {}), "discarded_maker_changes": True}
    return JSONResponse(resource)


async def delete_resource(request: Request, ctl: _Control) -> Response:
    kind = _kind(request)
    if not ctl.store.delete(kind, _rid(request)):
        raise NotFound(f"{_SINGULAR[kind.name]} not found")
    return JSONResponse({"message": f"{_SINGULAR[kind.name]} deleted"})


async def validate_objectives(request: Request, ctl: _Control) -> Response:  # noqa: ARG001
    """POST /v2/objectives/validate: the create's checks, nothing stored."""
    body = await _body(request)
    if not isinstance(body, dict):
        raise ValueError("the objective set must be a JSON object")
    check_body(OBJECTIVES, body)
    return JSONResponse({"valid": True})


async def guardrail_tags(request: Request, ctl: _Control) -> Response:  # noqa: ARG001
    store = ctl.store
    items, _total = await run_in_threadpool(store.list_resources, GUARDRAILS, MAX_LIMIT, 1, "user")
    tags = sorted({t for g in items for t in g.get("tags") or () if isinstance(t, str)})
    return JSONResponse({"tags": tags, "total_count": len(tags)})


async def list_faces(request: Request, ctl: _Control) -> Response:  # noqa: ARG001
    """The stock face the seeded personas use (the CLI's `doctor` lists faces)."""
    return JSONResponse({"data": [dict(STOCK_FACE)], "total_count": 1})


async def create_conversation(request: Request, ctl: _Control) -> Response:
    url_base = f"{request.base_url}c"
    body = await _body(request)
    return JSONResponse(ctl.store.create_conversation(body, url_base))


async def get_conversation(request: Request, ctl: _Control) -> Response:
    conv_id = request.path_params["conversation_id"]
    conversation = ctl.store.get_conversation(conv_id)
    if conversation is None:
        raise NotFound("conversation not found")
    return JSONResponse(conversation)


async def pal_tools(request: Request, ctl: _Control) -> Response:
    """GET (the PAL's tools) and POST `{tool_ids}` (attach) /v2/pals/{id}/tools/."""
    kind, rid = _kind(request), _rid(request)
    pal = ctl.store.get(kind, rid)
    if pal is None:
        raise NotFound("persona not found")
    attached = [t for t in pal.get("tool_ids") or () if isinstance(t, str)]
    if request.method == "GET":
        tools = [ctl.store.get(TOOLS, t) for t in attached]
        found = [t for t in tools if t is not None]
        return JSONResponse({"data": found, "total_count": len(found)})
    body = await _body(request)
    ids = body.get("tool_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(t, str) and t for t in ids):
        raise ValueError("tool_ids must be a non-empty array of tool ids")
    for tool_id in ids:
        if ctl.store.get(TOOLS, tool_id) is None:
            raise ValueError(f"tool {tool_id} does not exist")
    return await _set_tool_ids(request, ctl, [*attached, *(t for t in ids if t not in attached)])


async def detach_pal_tool(request: Request, ctl: _Control) -> Response:
    """DELETE /v2/pals/{id}/tools/{tool_id}."""
    pal = ctl.store.get(_kind(request), _rid(request))
    if pal is None:
        raise NotFound("persona not found")
    tool_id = request.path_params["tool_id"]
    attached = [t for t in pal.get("tool_ids") or () if t != tool_id]
    return await _set_tool_ids(request, ctl, attached)


async def _set_tool_ids(request: Request, ctl: _Control, tool_ids: list[str]) -> Response:
    kind, rid = _kind(request), _rid(request)
    if len(tool_ids) > MAX_PAL_TOOLS:
        raise ValueError(f"a PAL can carry at most {MAX_PAL_TOOLS} tool_ids")
    ops = [{"op": "add", "path": "/tool_ids", "value": tool_ids}]
    try:
        ctl.store.patch(kind, rid, ops)
    except Conflict as exc:
        conflict = {"conflict": "maker_changes", "message": str(exc), kind.id_field: rid}
        return JSONResponse(conflict, status_code=409)
    return JSONResponse(ctl.store.get(kind, rid))


# -- dispatch ------------------------------------------------------------------------
# Our own small ASGI application instead of Starlette's: its Router tries the regex of
# each of ~60 routes in turn, and with its middleware and request wrapper that was an
# eighth of serve's CPU per request under a parallel deploy.  Here a static path is one
# dict lookup and a `{param}` path a walk over its segments.


@dataclass(frozen=True)
class _Route:
    """What answers one method at one path."""

    handler: Handler
    kind: Kind | None = None
    # "METHOD /path" as /_stats counts it; None for a test control (not counted, no
    # auth, no faults)
    counted_as: str | None = None


@dataclass
class _Node:
    """A segment of the `{param}` paths.  Static children or one parameter, never both:
    a path then matches one way only, whatever order the routes were added in."""

    children: dict[str, _Node] = field(default_factory=dict)
    param: str | None = None
    param_child: _Node | None = None
    routes: dict[str, _Route] = field(default_factory=dict)  # by method


def _trimmed(path: str) -> str:
    """The path without one trailing slash: every path answers with and without one
    (the official CLI creates objectives at `/v2/objectives/`)."""
    return path[:-1] if path.endswith("/") and path != "/" else path


class _Router:
    def __init__(self) -> None:
        self.static: dict[str, dict[str, _Route]] = {}  # path -> method -> route
        self.root = _Node()

    def add(self, method: str, path: str, route: _Route) -> None:
        if "{" not in path:
            self.static.setdefault(_trimmed(path), {})[method] = route
            return
        node = self.root
        for segment in _trimmed(path)[1:].split("/"):
            if segment.startswith("{"):
                assert not node.children and node.param in (None, segment[1:-1]), path
                node.param = segment[1:-1]
                node.param_child = node.param_child or _Node()
                node = node.param_child
            else:
                assert node.param is None, path
                node = node.children.setdefault(segment, _Node())
        node.routes[method] = route

    def _match(self, path: str) -> tuple[dict[str, _Route], dict[str, str]]:
        """The routes of the `{param}` path `path` matches (by method; none: `{}`) and
        its parameters.  `path` is percent-decoded already (uvicorn's scope["path"])."""
        node, params = self.root, {}
        for segment in path[1:].split("/"):
            child = node.children.get(segment)
            if child is None:
                if node.param_child is None or not segment:
                    return {}, {}
                params[cast(str, node.param)] = segment
                child = node.param_child
            node = child
        return node.routes, params

    def find(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | Response:
        """The route and path parameters of a request, else its 404 or 405 answer.  A
        static path comes first (`/v2/guardrails/tags`), then the `{param}` ones
        (`GET /v2/objectives/validate` is the objective set "validate")."""
        path = _trimmed(path)
        wanted = "GET" if method == "HEAD" else method  # as Starlette: GET answers HEAD
        static = self.static.get(path, {})
        route = static.get(wanted)
        if route is not None:
            return route, {}
        dynamic, params = self._match(path)
        route = dynamic.get(wanted)
        if route is not None:
            return route, params
        allowed = {*static, *dynamic}
        if not allowed:
            return _error(404, "Not Found")
        if "GET" in allowed:
            allowed.add("HEAD")
        response = _error(405, "Method Not Allowed")
        response.headers["Allow"] = ", ".join(sorted(allowed))
        return response


_log = logging.getLogger("uvicorn.error")


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop (the store is open before uvicorn starts), but said so:
    uvicorn would log an app that refuses the lifespan protocol."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class App:
    """The ASGI application `create_app` returns."""

    def __init__(self, ctl: _Control, router: _Router) -> None:
        self.ctl = ctl
        self.router = router
        self._api_key = None if ctl.api_key is None else ctl.api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # a websocket: refused by uvicorn (403)
        found = self.router.find(scope["method"], scope["path"])
        if isinstance(found, Response):
            await found(scope, receive, send)
            return
        route, params = found
        scope["path_params"] = params  # what Request.path_params reads
        scope[_KIND] = route.kind
        request = Request(scope, receive)
        try:
            if route.counted_as is None:
                response = await route.handler(request, self.ctl)
            else:
                response = await self._api(route, request, route.counted_as)
        except Exception:
            # a bug: a 500 like any other error answer, the traceback in the log
            _log.exception("Exception in ASGI application")
            response = _error(500, "Internal Server Error")
        # raising here (the "abort" drop mode's _Dropped, after the response started)
        # makes uvicorn close the connection mid-response
        await response(scope, receive, send)

    async def _api(self, route: _Route, request: Request, counted_as: str) -> Response:
        """A /v2 request: counting, auth, fault injection and error mapping."""
        ctl = self.ctl
        ctl.stats[counted_as] += 1
        if self._api_key is not None:
            # as Starlette's headers did: the value decoded as latin-1, compared as UTF-8
            given = _header(request.scope, b"x-api-key").decode("latin-1").encode()
            if not hmac.compare_digest(given, self._api_key):
                return _error(401, "Invalid access token", key="message")
        arrived = time.monotonic()
        response = await self._answer(route, request)
        if ctl.faults.latency_ms:
            # a remote API's response time: this server's own work counts toward it (on
            # top, 16 creates in flight would each wait for the others' CPU as well)
            remaining = ctl.faults.latency_ms / 1000 - (time.monotonic() - arrived)
            if remaining > 0:
                await asyncio.sleep(remaining)
        return response

    async def _answer(self, route: _Route, request: Request) -> Response:
        fault = self.ctl.injected()
        if fault is not None:
            return fault
        try:
            return await route.handler(request, self.ctl)
        except NotFound as exc:
            return _error(404, str(exc))
        except ValueError as exc:
            return _error(400, str(exc))
        except _TooLarge as exc:
            return _error(413, str(exc))


def _header(scope: Scope, name: bytes) -> bytes:
    """The first value of a header (`name` lower case, as the ASGI scope has them); b""
    when absent.  Cheaper than building Starlette's Headers for one lookup."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


async def control_faults(request: Request, ctl: _Control) -> Response:
    if request.method == "POST":
        try:
            changes = await _body(request)
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of fault settings")
            settings = Faults.from_dict({**ctl.faults.to_dict(), **changes})
            unknown = [r for r in settings.drafts if ctl.store.get(PERSONAS, r) is None]
            if unknown:
                raise ValueError(f"drafts: no persona {', '.join(unknown)}")
            ctl.set_faults(settings)
        except ValueError as exc:
            return _error(400, str(exc))
        except _TooLarge as exc:
            return _error(413, str(exc))
    return JSONResponse({**ctl.faults.to_dict(), "drafts": ctl.store.drafts()})


async def control_stats(request: Request, ctl: _Control) -> Response:
    if request.method == "DELETE":
        ctl.stats.clear()
    return JSONResponse({"total": sum(ctl.stats.values()), "requests": dict(ctl.stats)})


def _kind_routes(kind: Kind, create: Handler) -> list[tuple[str, str, Handler, Kind]]:
    base = kind.collection
    one = f"{base}/{{{_ID_PARAMS[kind.name]}}}"
    return [
        ("GET", base, list_resources, kind),
        ("POST", base, create, kind),
        ("GET", one, get_resource, kind),
        ("PATCH", one, patch_resource, kind),
        ("DELETE", one, delete_resource, kind),
    ]


def create_app(store: Store, api_key: str | None = None, faults: Faults | None = None) -> App:
    """The app over `store`.  Handlers are this module's functions as they are now (tests
    replace `create_persona` and others to make the API misbehave)."""
    pal_tools_path = "/v2/pals/{persona_id}/tools"
    api: list[tuple[str, str, Handler, Kind | None]] = [
        ("POST", "/v2/objectives/validate", validate_objectives, None),
        ("GET", "/v2/guardrails/tags", guardrail_tags, None),
        ("GET", pal_tools_path, pal_tools, PALS),
        ("POST", pal_tools_path, pal_tools, PALS),
        ("DELETE", pal_tools_path + "/{tool_id}", detach_pal_tool, PALS),
        # one store of personas, seen as personas or as PALs (names and ids to match)
        *_kind_routes(PERSONAS, create_persona),
        *_kind_routes(PALS, create_persona),
        *_kind_routes(OBJECTIVES, create_resource),
        *_kind_routes(GUARDRAILS, create_resource),
        *_kind_routes(TOOLS, create_resource),
        ("GET", "/v2/faces", list_faces, None),
        ("POST", "/v2/conversations", create_conversation, None),
        ("GET", "/v2/conversations/{conversation_id}", get_conversation, None),
    ]
    router = _Router()
    for method, path, handler, kind in api:
        router.add(method, path, _Route(handler, kind, f"{method} {path}"))
    for method in ("GET", "POST"):
        router.add(method, "/_faults", _Route(control_faults))
    for method in ("GET", "DELETE"):
        router.add(method, "/_stats", _Route(control_stats))
    return App(_Control(store, api_key, faults or Faults()), router)


def run(
    host: str = "127.0.0.1",
    port: int = 8787,
    db_path: str | os.PathLike[str] = ".personactl/serve.db",
    api_key: str | None = None,
    faults: Faults | None = None,
    *,
    seed_system: bool = True,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Serve until interrupted.  Faults default to $PERSONACTL_SERVE_FAULTS.  Without
    `access_log`, uvicorn logs no line per request (a sixth of serve's CPU under load)."""
    # The write checks, imported before listening: the models (pydantic) word a refused
    # body, and imported by the first one instead they would stall every request in
    # flight for half a second (the GIL); the quick predicates are built here too.
    import personactl.schema.models  # noqa: F401
    from personactl.schema import quick

    quick.checker("personas")
    quick.checker("conversations")

    store = Store(db_path, seed_system=seed_system)
    try:
        app = create_app(store, api_key, faults if faults is not None else Faults.from_env())
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)
    finally:
        store.close()
