from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from personactl.deploy.backends.base import CreateOutcomeUnknown
from personactl.deploy.backends.tavus import MAX_RETRY_AFTER, TavusBackend, parse_retry_after
from personactl.errors import ApiError
from personactl.kinds import PERSONAS
from personactl.serve.store import MASK
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

    def handler(request):
        return httpx.Response(400, json={"error": f"bad key {request.headers['x-api-key']}"})

    backend = TavusBackend("http://api", key, transport=httpx.MockTransport(handler))
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
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"persona_id": "p1", "persona_name": "x"})

    backend = TavusBackend(
        "http://api", "k", transport=httpx.MockTransport(handler), backoff_base=0.001
    )
    assert backend.create(PERSONAS, {"persona_name": "x"})["persona_id"] == "p1"
    assert backend.request_count() == 2


def test_create_timeout_is_outcome_unknown():
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    backend = TavusBackend("http://api", "k", transport=httpx.MockTransport(handler))
    with pytest.raises(CreateOutcomeUnknown):
        backend.create_conversation({"persona_id": "p1"})
    assert backend.request_count() == 1


def test_transport_errors_on_reads_are_retried():
    def handler(request):
        raise httpx.ReadError("reset", request=request)

    transport = httpx.MockTransport(handler)
    backend = TavusBackend(
        "http://api", "k", transport=transport, backoff_base=0.001, max_retries=2
    )
    with pytest.raises(ApiError, match="DELETE /v2/personas/p1 failed after 3 attempts: ReadError"):
        backend.delete(PERSONAS, "p1")
    assert backend.request_count() == 3


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


def _paged_api(n: int, *, with_total: bool = True, delay: float = 0.0):
    """A MockTransport listing n user personas; records the pages asked for."""
    asked: list[int] = []

    def handler(request):
        page = int(request.url.params["page"])
        limit = int(request.url.params["limit"])
        asked.append(page)
        time.sleep(delay)
        items = [{"persona_id": f"p{i}"} for i in range((page - 1) * limit, min(n, page * limit))]
        body = {"data": items, **({"total_count": n} if with_total else {})}
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handler), asked


def test_list_fetches_pages_after_the_first_concurrently_in_order():
    transport, asked = _paged_api(23, delay=0.05)
    backend = TavusBackend("http://api", "k", page_size=5, transport=transport)
    start = time.monotonic()
    listed = [p["persona_id"] for p in backend.list_all(PERSONAS)]
    elapsed = time.monotonic() - start
    assert listed == [f"p{i}" for i in range(23)]
    assert sorted(asked) == [1, 2, 3, 4, 5] and asked[0] == 1
    assert backend.request_count() == 5
    assert elapsed < 0.05 * 4  # pages 2..5 overlapped: about two round trips, not five


def test_list_without_total_count_pages_until_a_short_page():
    transport, asked = _paged_api(12, with_total=False)
    backend = TavusBackend("http://api", "k", page_size=5, transport=transport)
    assert len(list(backend.list_all(PERSONAS))) == 12
    assert asked == [1, 2, 3]


def test_list_abandoned_early_cancels_the_pages_ahead():
    transport, asked = _paged_api(500)
    backend = TavusBackend("http://api", "k", page_size=5, list_parallelism=4, transport=transport)
    listing = backend.list_all(PERSONAS)
    first = [next(listing)["persona_id"] for _ in range(7)]
    listing.close()
    assert first == [f"p{i}" for i in range(7)]
    assert len(asked) <= 1 + 4 + 1  # page 1, the window ahead, one refill: not 100 pages
    assert backend.request_count() == len(asked)


def test_requests_share_a_connection_per_request_in_flight(server):  # noqa: F811
    """Clients of one connection each are lent per request: one for requests one after
    another, never more than the requests in flight at once, each kept warm."""
    backend = TavusBackend(server.url, API_KEY)
    try:
        for _ in range(5):
            backend.create(PERSONAS, PERSONA)
        assert len(backend._clients._every) == 1
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: backend.create(PERSONAS, PERSONA), range(40)))
        assert 1 <= len(backend._clients._every) <= 4
        assert len(list(backend.list_all(PERSONAS))) == 45
    finally:
        backend.close()
    assert backend._clients._every == []
