"""The `tavus` backend: the Tavus v2 HTTP API (or any compatible server, e.g. `personactl serve`).

Safe to share between threads (apply calls it from a pool).  Reads, patches and
deletes are retried on 429, 5xx and transport errors with exponential backoff and
jitter, honouring Retry-After.  Creates are retried only when the request was
provably refused (429, connection never made): otherwise CreateOutcomeUnknown.

The HTTP exchanges themselves are personactl.deploy.backends.connections (http.client,
a pool of keep-alive connections, proxies and TLS as curl has them).
"""

from __future__ import annotations

import http
import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

from personactl import __version__, sensitive
from personactl.deploy.backends.base import JSON, CreateOutcomeUnknown, DraftConflict, Encoded
from personactl.deploy.backends.connections import Answer, Pool, TransportError
from personactl.errors import ApiError
from personactl.kinds import Kind

# request bodies: compact UTF-8, and NaN is not JSON (one encoder for all: json.dumps
# with arguments builds a new one per call)
_BODY = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_JSON_BODY = {"content-type": "application/json"}
MAX_BACKOFF = 30.0  # seconds, cap of the exponential backoff
MAX_RETRY_AFTER = 120.0  # seconds; a longer Retry-After is clamped rather than obeyed


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds (fractions allowed) or an
    HTTP date.  None when absent or unparseable; clamped to 0..MAX_RETRY_AFTER."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _json(resp: Answer) -> Any:
    """The body as JSON; ValueError when it is not."""
    return json.loads(resp.content)


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _server_message(resp: Answer) -> str:
    try:
        data = _json(resp)
    except ValueError:
        return resp.content.decode("utf-8", "replace").strip()[:200] or _reason(resp.status)
    if isinstance(data, dict):
        for key in ("message", "error", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return str(data)[:200]


def _conflict(resp: Answer) -> Any:
    try:
        data = _json(resp)
    except ValueError:
        return None
    return data.get("conflict") if isinstance(data, dict) else None


class TavusBackend:
    name = "tavus"

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        api_key_env: str = "TAVUS_API_KEY",
        timeout: float = 30.0,
        max_retries: int = 5,
        page_size: int = 100,
        list_parallelism: int = 8,
        backoff_base: float = 0.5,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key_env = api_key_env
        self.max_retries = max_retries
        self.page_size = page_size
        self.list_parallelism = list_parallelism  # list pages fetched at once after page 1
        self.backoff_base = backoff_base
        self._secret = api_key  # only for the header and for redaction; never in repr
        sensitive.remember(api_key)  # an echo of it, in any encoding, is scrubbed too
        headers = {"x-api-key": api_key, "user-agent": f"personactl/{__version__}"}
        self._http = Pool(self.api_url, headers, timeout)
        self._count_lock = threading.Lock()
        self._requests = 0
        # told of each retry before its wait (apply's progress display), from any thread
        self.on_retry: Callable[[str], None] | None = None

    def __repr__(self) -> str:
        return f"TavusBackend(api_url={self.api_url!r})"

    # -- plumbing ---------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "****") if self._secret else text

    def _error(self, message: str, status: int | None = None) -> ApiError:
        return ApiError(self._redact(message), status)

    def _backoff(self, attempt: int, resp: Answer | None = None) -> float:
        retry_after = parse_retry_after(resp.retry_after) if resp else None
        if retry_after is not None:
            # at least what the server asked; a little extra spreads parallel workers
            return retry_after * random.uniform(1.0, 1.1)
        return min(MAX_BACKOFF, self.backoff_base * 2.0**attempt) * random.uniform(0.5, 1.0)

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        resendable: bool = True,
    ) -> Answer:
        """One logical request with retries.  Returns any non-retryable response.

        `resendable=False` (creates) never resends once the request may have
        reached the server: a lost response raises CreateOutcomeUnknown instead.
        """
        what = f"{method} {path}"
        target = path + ("?" + urlencode(params) if params else "")
        # encoded once for every attempt
        if isinstance(body, Encoded):
            data: bytes | None = body.text.encode()
        else:
            data = None if body is None else _BODY.encode(body).encode()
        last, status = "", None
        for attempt in range(self.max_retries + 1):
            with self._count_lock:
                self._requests += 1
            resp: Answer | None = None
            try:
                resp = self._http.request(method, target, data, _JSON_BODY if data else None)
            except ValueError:
                # refused by http.client before sending: resending cannot help, and its
                # message holds the offending header value (the key)
                raise self._error(
                    f"{what}: the request cannot be sent (a header holds a line break or "
                    "another character HTTP does not allow); nothing was sent"
                ) from None
            except TransportError as exc:
                if not resendable and exc.sent:
                    raise CreateOutcomeUnknown(
                        self._redact(
                            f"{what}: the response was lost ({exc}); "
                            "the create may or may not have happened"
                        )
                    ) from exc
                # the host too: "connection refused" alone does not say which API
                last, status = f"{exc} (API at {self.api_url})", None
            else:
                status = resp.status
                if status in (401, 403):
                    raise self._error(
                        f"authentication failed: the API rejected the key in ${self.api_key_env}"
                        f" ({what}: HTTP {status}: {_server_message(resp)})",
                        status,
                    )
                if status != 429 and status < 500:
                    return resp
                last = f"HTTP {status}: {_server_message(resp)}"
                if status >= 500 and not resendable:
                    raise CreateOutcomeUnknown(
                        self._redact(f"{what}: {last}; the create may or may not have happened"),
                        status,
                    )
            if attempt < self.max_retries:
                delay = self._backoff(attempt, resp)
                if self.on_retry is not None:
                    self.on_retry(
                        self._redact(
                            f"retry: {what}: {last}; waiting {delay:.1f}s "
                            f"(attempt {attempt + 2} of {self.max_retries + 1})"
                        )
                    )
                time.sleep(delay)
        raise self._error(f"{what} failed after {self.max_retries + 1} attempts: {last}", status)

    def _expect(self, resp: Answer, *ok: int) -> None:
        if 200 <= resp.status < 300 or resp.status in ok:
            return
        raise self._error(
            f"{resp.what} failed: HTTP {resp.status}: {_server_message(resp)}", resp.status
        )

    def _json(self, resp: Answer) -> Any:
        try:
            return _json(resp)
        except ValueError:
            raise self._error(f"{resp.what}: the response is not JSON", resp.status) from None

    @staticmethod
    def _path(kind: Kind, rid: str) -> str:
        return f"{kind.collection}/{quote(rid, safe='')}"

    # -- Backend ----------------------------------------------------------------

    def _list_page(self, kind: Kind, page: int) -> tuple[list[Any], Any]:
        """One page of the account's own resources and the total_count the server gave."""
        params: dict[str, str | int] = {"limit": self.page_size, "page": page}
        params.update(kind.list_filter)
        resp = self._send("GET", kind.collection, params=params)
        self._expect(resp)
        data = self._json(resp)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self._error(f"GET {kind.collection}: the response has no `data` list")
        return items, data.get("total_count")

    def _pages(self, kind: Kind, expected: int = 0) -> Generator[tuple[list[Any], Any], None, None]:
        """Every page in order, for as long as the caller asks.  The pages the caller
        expects (`expected` resources), and once page 1 tells the total_count the pages
        it implies, are fetched concurrently (at most `list_parallelism` in flight);
        past them, or without a total_count, one page at a time.  Pages the caller does
        not ask for are cancelled, or their answers dropped if already in flight."""
        last = max(1, -(-expected // self.page_size))
        workers = max(1, self.list_parallelism)
        page = 1
        with ThreadPoolExecutor(workers, thread_name_prefix="personactl-list") as pool:
            window: deque[Future[tuple[list[Any], Any]]] = deque()
            try:
                while page <= last or window:
                    while page <= last and len(window) < workers:
                        window.append(pool.submit(self._list_page, kind, page))
                        page += 1
                    items, total = window.popleft().result()
                    if isinstance(total, int) and not isinstance(total, bool) and total > 0:
                        last = max(last, -(-total // self.page_size))
                    yield items, total
            finally:
                for future in window:
                    future.cancel()
        while True:
            yield self._list_page(kind, page)
            page += 1

    def list_all(self, kind: Kind, expected: int = 0) -> Iterator[JSON]:
        seen: set[str] = set()
        pages = self._pages(kind, expected)
        try:
            for items, total in pages:
                # dedupe: a create during listing can shift a resource onto the next page
                fresh = [r for r in items if isinstance(r, dict) and kind.id_of(r) not in seen]
                for resource in fresh:
                    seen.add(kind.id_of(resource) or "")
                    # the platform's own resources, if the filter is ignored
                    if not kind.type_field or resource.get(kind.type_field) != "system":
                        yield resource
                if len(items) < self.page_size or not fresh:
                    return
                if isinstance(total, int) and len(seen) >= total:
                    return
        finally:
            pages.close()  # cancels what was fetched ahead and is no longer wanted

    def get(self, kind: Kind, rid: str) -> JSON | None:
        resp = self._send("GET", self._path(kind, rid))
        if resp.status == 404:
            return None
        self._expect(resp)
        data = self._json(resp)
        # the docs show {"data": [persona]}, servers also answer the bare object: take both
        bare = isinstance(data, dict) and kind.id_of(data) is not None
        envelope = data.get("data") if isinstance(data, dict) and not bare else None
        if isinstance(envelope, list):
            data = envelope[0] if envelope else None
        if data is not None and not isinstance(data, dict):
            raise self._error(f"GET {self._path(kind, rid)}: unexpected response shape")
        return data

    def create(self, kind: Kind, payload: JSON | Encoded) -> JSON:
        """The API's response: Tavus itself answers only the id, the name and created_at."""
        resp = self._send("POST", kind.collection, body=payload, resendable=False)
        self._expect(resp)
        data = self._json(resp)
        if not isinstance(data, dict) or kind.id_of(data) is None:
            raise CreateOutcomeUnknown(
                f"POST {kind.collection}: the response carries no {kind.id_field}"
            )
        return data

    def patch(self, kind: Kind, rid: str, ops: list[JSON] | JSON, force: bool = False) -> bool:
        path = self._path(kind, rid)
        params = {"force": "true"} if force else None
        resp = self._send("PATCH", path, body=ops, params=params)
        if resp.status == 409 and _conflict(resp) == "maker_changes":
            raise DraftConflict(
                self._redact(
                    f"PATCH {path}: {rid} has unsaved changes in PAL Maker (a draft):"
                    f" {_server_message(resp)}"
                ),
                409,
                hint="save or discard the draft in PAL Maker, or apply with --discard-drafts",
            )
        self._expect(resp, 304)
        if resp.status == 304 or not resp.content:
            return False
        data = self._json(resp)
        return isinstance(data, dict) and data.get("discarded_maker_changes") is True

    def delete(self, kind: Kind, rid: str) -> None:
        self._expect(self._send("DELETE", self._path(kind, rid)), 404, 410)

    def create_conversation(self, body: JSON) -> JSON:
        resp = self._send("POST", "/v2/conversations", body=body, resendable=False)
        self._expect(resp)
        data = self._json(resp)
        if not isinstance(data, dict):
            raise self._error("POST /v2/conversations: unexpected response shape")
        return data

    def request_count(self) -> int:
        with self._count_lock:
            return self._requests

    def close(self) -> None:
        self._http.close()
