"""serve's own dispatcher: 404s, 405s, 500s, paths and their parameters, the access log."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serverfix import API_KEY, LiveServer, free_port, running, serve_cmd, server  # noqa: F401

PERSONA = {"persona_name": "Router", "system_prompt": "Route.", "default_replica_id": "r1"}
ACCESS_LINE = '"GET /v2/personas HTTP/1.1" 200'


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:  # noqa: F811
    with httpx.Client(base_url=server.url, headers={"x-api-key": API_KEY}) as c:
        yield c


def test_unknown_paths_are_404s_in_json(client: httpx.Client, server: LiveServer) -> None:  # noqa: F811
    server.reset_stats()
    for path in ("/nope", "/v2", "/v2/personas/p1/extra", "/v2/pals/p1/tools/t1/x", "/_statsx"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.json() == {"error": "Not Found"}
    assert server.stats()["total"] == 0  # answered before any /v2 route: not counted


def test_a_wrong_method_is_a_405_with_allow(client: httpx.Client, server: LiveServer) -> None:  # noqa: F811
    server.reset_stats()
    resp = client.put("/v2/personas", json={})
    assert resp.status_code == 405 and resp.json() == {"error": "Method Not Allowed"}
    assert resp.headers["allow"] == "GET, HEAD, POST"
    one = client.post("/v2/personas/p1/", json={})  # the trailing slash changes nothing
    assert one.status_code == 405 and one.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    assert httpx.put(f"{server.url}/_stats").status_code == 405
    assert server.stats()["total"] == 0
    assert client.head("/v2/personas").status_code == 200  # GET answers HEAD, as it counts
    assert server.stats()["requests"] == {"GET /v2/personas": 1}


def test_paths_static_first_then_by_segment(client: httpx.Client, server: LiveServer) -> None:  # noqa: F811
    pid = client.post("/v2/personas/", json=PERSONA).json()["persona_id"]
    # the id arrives percent-decoded ("%70" is "p"), with or without a trailing slash
    for path in (f"/v2/personas/%70{pid[1:]}", f"/v2/pals/{pid}/"):
        assert client.get(path).status_code == 200, path
    assert client.get(f"/v2/pals/{pid}/tools/").json() == {"data": [], "total_count": 0}
    # a static path wins over `{id}`, for its own method only
    assert client.get("/v2/guardrails/tags").json() == {"tags": [], "total_count": 0}
    missing = client.get("/v2/objectives/validate")
    assert missing.status_code == 404 and missing.json() == {"error": "objective set not found"}
    assert client.delete(f"/v2/personas/{pid}").status_code == 200
    assert server.stats()["requests"] == {
        "POST /v2/personas": 1,
        "GET /v2/personas/{persona_id}": 1,
        "GET /v2/pals/{persona_id}": 1,
        "GET /v2/pals/{persona_id}/tools": 1,
        "GET /v2/guardrails/tags": 1,
        "GET /v2/objectives/{objectives_id}": 1,
        "DELETE /v2/personas/{persona_id}": 1,
    }


# A serve whose GET of one persona has a bug, as `personactl serve` runs it (its logging).
BROKEN = """
import sys
import personactl.serve.app as app

async def get_resource(request, ctl):
    raise RuntimeError("a bug in a handler")

app.get_resource = get_resource
app.run(port=int(sys.argv[1]), db_path=sys.argv[2], seed_system=False)
"""


def test_a_handler_that_raises_is_a_500_with_its_traceback_logged(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-c", BROKEN, str(port), str(tmp_path / "serve.sqlite")]
    with running(cmd, port) as served, httpx.Client(base_url=served.url) as client:
        resp = client.get("/v2/personas/p1")
        assert resp.status_code == 500
        assert resp.text == '{"error":"Internal Server Error"}'  # one line of JSON
        assert client.get("/v2/personas").status_code == 200  # the connection lives on
    log = served.output()
    assert "Exception in ASGI application" in log and "Traceback" in log
    assert "RuntimeError: a bug in a handler" in log


@pytest.mark.parametrize("quiet", [False, True])
def test_no_access_log(tmp_path: Path, quiet: bool) -> None:
    port = free_port()
    args = ["--db", str(tmp_path / "serve.sqlite"), *(["--no-access-log"] if quiet else [])]
    with running(serve_cmd(port, *args), port) as served:
        assert httpx.get(f"{served.url}/v2/personas").status_code == 200
    log = served.output()
    assert "Uvicorn running on" in log  # the server's own lines stay
    assert (ACCESS_LINE in log) is not quiet, log
