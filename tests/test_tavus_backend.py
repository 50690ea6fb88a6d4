from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import trustme

from personactl.deploy.backends.base import CreateOutcomeUnknown
from personactl.deploy.backends.tavus import MAX_RETRY_AFTER, TavusBackend, parse_retry_after
from personactl.errors import ApiError
from personactl.kinds import PERSONAS
from personactl.serve.store import MASK
from tests.httpfix import Drop, Reply, Script, Scripted, Seen, scripted, unused_port
from tests.serverfix import API_KEY, server  # noqa: F401

PERSONA = {
    "persona_name": "Storyteller",
    "system_prompt": "Tell stories.",
    "layers": {"llm": {"model": "m", "api_key": "sk-secret"}},
}


@pytest.fixture
def backend(server):  # noqa: F811
    b = TavusBackend(server.url, API_KEY, backoff_base=0.01, page_size=5, max_retries=3)
    yield b
    b.close()


def test_crud(backend):
    assert backend.name == "tavus"
    created = backend.create(PERSONAS, PERSONA)
    pid = created["persona_id"]
    got = backend.get(PERSONAS, pid)
    assert got["persona_name"] == "Storyteller" and got["layers"]["llm"]["api_key"] == MASK
    ops = [{"op": "replace", "path": "/persona_name", "value": "New"}]
    backend.patch(PERSONAS, pid, ops)
    backend.patch(PERSONAS, pid, ops)  # 304: no change is success
    assert backend.get(PERSONAS, pid)["persona_name"] == "New"
    with pytest.raises(ApiError, match=r"PATCH /v2/personas/p\w+ failed: HTTP 400"):
        backend.patch(PERSONAS, pid, [{"op": "remove", "path": "/missing"}])
    backend.delete(PERSONAS, pid)
    backend.delete(PERSONAS, pid)  # already gone: success
    assert backend.get(PERSONAS, pid) is None


def test_get_unwraps_data_envelope(backend, server):  # noqa: F811
    pid = backend.create(PERSONAS, PERSONA)["persona_id"]
    server.set_faults(envelope_get=True)
    assert backend.get(PERSONAS, pid)["persona_id"] == pid
    assert backend.get(PERSONAS, "pmissing") is None


def test_list_pages_only_user_personas(backend, server):  # noqa: F811
    ids = [backend.create(PERSONAS, {"persona_name": str(i)})["persona_id"] for i in range(12)]
    server.reset_stats()
    listed = list(backend.list_all(PERSONAS))
    assert [p["persona_id"] for p in listed] == ids  # the 2 system personas are left out
    assert server.stats()["requests"] == {"GET /v2/personas": 3}  # 5 + 5 + 2


def test_list_stops_at_total_count(backend, server):  # noqa: F811
    for i in range(10):
        backend.create(PERSONAS, {"persona_name": str(i)})
    server.reset_stats()
    assert len(list(backend.list_all(PERSONAS))) == 10
    assert server.stats()["total"] == 2  # no third request for an empty page


def test_retries_429_honouring_retry_after(backend, server):  # noqa: F811
    server.set_faults(fail_next=[429, 429], retry_after=0.2)
    start = time.monotonic()
    assert list(backend.list_all(PERSONAS)) == []
    assert time.monotonic() - start >= 0.4
    assert backend.request_count() == 3


def test_create_retries_429(backend, server):  # noqa: F811
    server.set_faults(fail_next=[429], retry_after=0.01)
    backend.create(PERSONAS, PERSONA)
    assert len(list(backend.list_all(PERSONAS))) == 1


def test_retries_5xx_then_gives_up(backend, server):  # noqa: F811
    server.set_faults(fail_next=[500, 502, 503])
    assert list(backend.list_all(PERSONAS)) == []
    server.set_faults(fail_next=[503] * 4)
    with pytest.raises(ApiError, match=r"GET /v2/personas/pabc failed after 4 attempts: HTTP 503"):
        backend.get(PERSONAS, "pabc")


def test_wrong_key_never_leaks(server):  # noqa: F811
    key = "wrong-key-9f8e7d6c5b4a"
    backend = TavusBackend(server.url, key, api_key_env="ACME_TAVUS_KEY")
    with pytest.raises(ApiError) as err:
        list(backend.list_all(PERSONAS))
    text = f"{err.value} {err.value!r} {backend!r}"
    assert "ACME_TAVUS_KEY" in str(err.value) and err.value.status == 401
    assert key not in text
    assert backend.request_count() == 1  # auth failures are not retried
    backend.close()


def test_key_echoed_by_server_is_redacted():
    key = "sk-live-abcdef123456"

    def echo(req: Seen) -> Reply:
        return Reply(400, {"error": f"bad key {req.headers['x-api-key']}"})

    with scripted(echo) as api:
        backend = TavusBackend(api.url, key)
        with pytest.raises(ApiError) as err:
            backend.patch(PERSONAS, "p1", [])
    assert key not in str(err.value) and "****" in str(err.value)


@pytest.mark.parametrize("mode", ["502", "abort"])
def test_lost_create_response_is_not_retried(backend, server, mode):  # noqa: F811
    server.set_faults(drop_create_response=1.0, drop_mode=mode)
    with pytest.raises(CreateOutcomeUnknown):
        backend.create(PERSONAS, PERSONA)
    assert backend.request_count() == 1
    server.set_faults(drop_create_response=0.0)
    assert len(list(backend.list_all(PERSONAS))) == 1  # it was created, exactly once


def test_create_not_sent_is_retried():
    """Connection refused: nothing was sent, so the create is sent again (here to a
    server that starts listening on that port during the wait)."""
    port = unused_port()
    with ExitStack() as stack:
        apis: list[Scripted] = []
        backend = TavusBackend(f"http://127.0.0.1:{port}", "k", backoff_base=0.001)
        backend.on_retry = lambda _line: apis.append(
            stack.enter_context(
                scripted(lambda _req: Reply(200, {"persona_id": "p1", "persona_name": "x"}), port)
            )
        )
        assert backend.create(PERSONAS, {"persona_name": "x"})["persona_id"] == "p1"
        assert backend.request_count() == 2
        assert len(apis) == 1 and len(apis[0].seen) == 1
        backend.close()


def test_create_timeout_is_outcome_unknown():
    with scripted(lambda _req: Drop(after=2.0)) as api:
        backend = TavusBackend(api.url, "k", timeout=0.2)
        with pytest.raises(CreateOutcomeUnknown, match="read timed out"):
            backend.create_conversation({"persona_id": "p1"})
        assert backend.request_count() == 1 and len(api.seen) == 1


def test_transport_errors_on_reads_are_retried():
    with scripted(lambda _req: Drop()) as api:
        backend = TavusBackend(api.url, "k", backoff_base=0.001, max_retries=2)
        with pytest.raises(
            ApiError, match="DELETE /v2/personas/p1 failed after 3 attempts: connection lost"
        ):
            backend.delete(PERSONAS, "p1")
        assert backend.request_count() == 3 and len(api.seen) == 3


def test_conversation(backend):
    pid = backend.create(PERSONAS, {**PERSONA, "default_replica_id": "r1"})["persona_id"]
    conv = backend.create_conversation({"persona_id": pid, "conversation_name": "Hi"})
    assert conv["conversation_url"].endswith(conv["conversation_id"])
    with pytest.raises(ApiError, match="HTTP 400"):
        backend.create_conversation({"persona_id": "pmissing"})


def test_request_count_matches_server_under_parallelism(backend, server):  # noqa: F811
    server.reset_stats()
    server.set_faults(rate_429=0.2, retry_after=0.01, seed=3)
    with ThreadPoolExecutor(16) as pool:
        created = list(
            pool.map(lambda i: backend.create(PERSONAS, {"persona_name": str(i)}), range(48))
        )
    server.set_faults(rate_429=0.0)
    assert len({p["persona_id"] for p in created}) == 48
    assert backend.request_count() == server.stats()["total"]
    assert len(list(backend.list_all(PERSONAS))) == 48


def test_parse_retry_after():
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after("0.05") == 0.05
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now) == 0
    assert parse_retry_after("99999") == MAX_RETRY_AFTER
    for bad in (None, "", "soon", "nan"):
        assert parse_retry_after(bad) is None


def _paged_api(n: int, *, with_total: bool = True, delay: float = 0.0) -> Script:
    """A script listing n user personas."""

    def page(req: Seen) -> Reply:
        number, limit = int(req.query["page"]), int(req.query["limit"])
        time.sleep(delay)
        items = [
            {"persona_id": f"p{i}"} for i in range((number - 1) * limit, min(n, number * limit))
        ]
        return Reply(200, {"data": items, **({"total_count": n} if with_total else {})})

    return page


def _pages(api: Scripted) -> list[int]:
    return [int(req.query["page"]) for req in api.seen]


def test_list_fetches_pages_after_the_first_concurrently_in_order():
    with scripted(_paged_api(23, delay=0.05)) as api:
        backend = TavusBackend(api.url, "k", page_size=5)
        start = time.monotonic()
        listed = [p["persona_id"] for p in backend.list_all(PERSONAS)]
        elapsed = time.monotonic() - start
    assert listed == [f"p{i}" for i in range(23)]
    assert sorted(_pages(api)) == [1, 2, 3, 4, 5] and _pages(api)[0] == 1
    assert backend.request_count() == 5
    assert elapsed < 0.05 * 4  # pages 2..5 overlapped: about two round trips, not five


def test_list_asks_for_the_expected_pages_at_once():
    """A caller that knows how many there are at least (state manages them) has their
    pages asked for together, page 1 among them; the pages beyond are still found."""
    page = _paged_api(23, delay=0.1)
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most at once

    def counted(req: Seen) -> Reply:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
        try:
            return page(req)
        finally:
            with lock:
                in_flight[0] -= 1

    with scripted(counted) as api:
        backend = TavusBackend(api.url, "k", page_size=5)
        listed = [p["persona_id"] for p in backend.list_all(PERSONAS, expected=14)]
    assert listed == [f"p{i}" for i in range(23)]
    assert sorted(_pages(api)) == [1, 2, 3, 4, 5]
    assert in_flight[1] >= 3  # pages 1-3 at once


def test_list_without_total_count_pages_until_a_short_page():
    with scripted(_paged_api(12, with_total=False)) as api:
        backend = TavusBackend(api.url, "k", page_size=5)
        assert len(list(backend.list_all(PERSONAS))) == 12
    assert _pages(api) == [1, 2, 3]


def test_list_abandoned_early_cancels_the_pages_ahead():
    with scripted(_paged_api(500)) as api:
        backend = TavusBackend(api.url, "k", page_size=5, list_parallelism=4)
        listing = backend.list_all(PERSONAS)
        first = [next(listing)["persona_id"] for _ in range(7)]
        listing.close()
        asked = _pages(api)
    assert first == [f"p{i}" for i in range(7)]
    assert len(asked) <= 1 + 4 + 1  # page 1, the window ahead, one refill: not 100 pages
    assert backend.request_count() == len(asked)


def test_connections_are_kept_alive_and_reused():
    """One connection for requests one after another; never more than the requests in
    flight at once (the pool lends the most recently used first)."""

    def create(_req: Seen) -> Reply:
        time.sleep(0.005)
        return Reply(200, {"persona_id": f"p{len(api.seen)}"})

    with scripted(create) as api:
        backend = TavusBackend(api.url, "k")
        for _ in range(5):
            backend.create(PERSONAS, PERSONA)
        assert len({req.peer for req in api.seen}) == 1
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: backend.create(PERSONAS, PERSONA), range(40)))
        assert 1 <= len({req.peer for req in api.seen}) <= 4
        assert all(req.headers["content-type"] == "application/json" for req in api.seen)
        assert json.loads(api.seen[0].body) == PERSONA
        # the body is a write of its own: Nagle must not hold it back for an ACK
        idle = backend._http._idle[0].sock
        assert idle is not None and idle.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        backend.close()


def test_the_proxy_the_environment_names_is_used_unless_no_proxy_says_otherwise(monkeypatch):
    """As httpx did (and curl, requests): HTTP(S)_PROXY, bypassed for NO_PROXY hosts."""
    listing = lambda _req: Reply(200, {"data": [], "total_count": 0})  # noqa: E731
    with scripted(listing) as proxy, scripted(listing) as api:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert list(TavusBackend("http://tavus.invalid:8080", "k").list_all(PERSONAS)) == []
        assert [req.target.split("?")[0] for req in proxy.seen] == [
            "http://tavus.invalid:8080/v2/personas"
        ]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert list(TavusBackend(api.url, "k").list_all(PERSONAS)) == []
        assert len(proxy.seen) == 1 and len(api.seen) == 1


def test_https_verifies_the_server_against_ssl_cert_file(monkeypatch, tmp_path):
    """TLS against a local server whose certificate a throwaway CA signed: trusted when
    SSL_CERT_FILE names that CA, and otherwise refused as a TLS error before anything is
    sent (so a create is tried again, never reported as maybe made)."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    listing = lambda _req: Reply(200, {"data": [], "total_count": 0})  # noqa: E731
    with scripted(listing, tls=server_context) as api:
        assert api.url.startswith("https://")
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        assert list(TavusBackend(api.url, "k").list_all(PERSONAS)) == []
        monkeypatch.delenv("SSL_CERT_FILE")  # certifi's bundle does not know this CA
        untrusted = TavusBackend(api.url, "k", max_retries=1, backoff_base=0.001)
        with pytest.raises(ApiError, match="failed after 2 attempts: TLS error: .*CERTIFICATE"):
            untrusted.create(PERSONAS, PERSONA)
        assert len(api.seen) == 1  # the list; the refused create never reached it
