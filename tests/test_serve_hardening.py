"""`serve` as a faithful stand-in: a rejected request is a 4xx and changes nothing."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli
from tests.serverfix import API_KEY, LiveServer, server  # noqa: F401

PERSONA = {"persona_name": "Storyteller", "system_prompt": "Tell stories."}


@pytest.fixture
def client(server: LiveServer):  # noqa: F811
    with httpx.Client(base_url=server.url, headers={"x-api-key": API_KEY}) as c:
        yield c


def _count(client: httpx.Client) -> int:
    resp = client.get("/v2/personas", params={"persona_type": "user"})
    assert resp.status_code == 200, resp.text
    return int(resp.json()["total_count"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": "99999999999999999999"}, "page must be between 0 and 1,000,000,000"),
        ({"limit": str(2**63)}, "limit must be between 1 and 10,000"),
        ({"limit": "0"}, "limit must be between 1 and 10,000"),
    ],
)
def test_overflowing_page_and_limit_are_400(client: httpx.Client, params, message) -> None:
    resp = client.get("/v2/personas", params=params)
    assert (resp.status_code, resp.json()) == (400, {"error": message})


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            '{"persona_name": "x", "system_prompt": NaN}',
            400,
            "the request body is not valid JSON: NaN is not JSON",
        ),
        ('{"context": Infinity}', 400, "the request body is not valid JSON: Infinity is not JSON"),
        ("[" * 100_000 + "]" * 100_000, 400, "the request body is nested deeper than 64 levels"),
        (
            json.dumps({"persona_name": "x", "layers": {"deep": json.loads("[" * 80 + "]" * 80)}}),
            400,
            "the request body is nested deeper than 64 levels",
        ),
        (
            json.dumps({"persona_name": 5, "system_prompt": "x"}),
            400,
            "invalid type for persona_name: expected string, got integer",
        ),
        (
            json.dumps({"system_prompt": "x", "layers": {"llm": {"speculative_inference": "y"}}}),
            400,
            "invalid type for speculative_inference: expected boolean, got string",
        ),
        (
            json.dumps({**PERSONA, "context": "x" * (1024 * 1024)}),
            413,
            "the request body is larger than 1,048,576 bytes",
        ),
    ],
    ids=["nan", "infinity", "deep-array", "deep-object", "wrong-type", "wrong-bool", "too-large"],
)
def test_a_rejected_create_changes_nothing(
    client: httpx.Client, body: str, status: int, message: str
) -> None:
    before = _count(client)
    resp = client.post(
        "/v2/personas", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert (resp.status_code, resp.json()) == (status, {"error": message})
    assert _count(client) == before  # and every list still answers


def test_a_patch_to_a_wrong_type_is_400_and_changes_nothing(client: httpx.Client) -> None:
    created = client.post("/v2/personas", json=PERSONA).json()
    pid = created["persona_id"]
    ops = [{"op": "replace", "path": "/persona_name", "value": ["not", "a", "string"]}]
    resp = client.patch(f"/v2/personas/{pid}", json=ops)
    assert (resp.status_code, resp.json()) == (
        400,
        {"error": "invalid type for persona_name: expected string, got list"},
    )
    assert client.get(f"/v2/personas/{pid}").json()["persona_name"] == "Storyteller"


def test_a_conversation_of_wrong_types_is_400(client: httpx.Client) -> None:
    pid = client.post("/v2/personas", json=PERSONA).json()["persona_id"]
    resp = client.post(
        "/v2/conversations", json={"persona_id": pid, "replica_id": "r1", "callback_url": 7}
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid type for callback_url: expected string, got integer"}


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    return run_cli(
        "serve", "--db", str(tmp_path / "s.db"), *args, cwd=tmp_path, env=env, timeout=20
    )


def test_serve_with_a_corrupt_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "s.db").write_bytes(b"not a database" * 100)
    result = _serve(tmp_path, "--port", "0")
    assert result.code == 1
    assert result.err.splitlines()[-1:] == [
        f"error: {tmp_path / 's.db'}: cannot use it as the server's database: "
        "file is not a database"
    ]


@pytest.mark.parametrize(
    ("faults", "line"),
    [
        (
            "{x",
            "invalid fault settings: PERSONACTL_SERVE_FAULTS is not valid JSON: Expecting "
            "property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (
            "[1]",
            "invalid fault settings: PERSONACTL_SERVE_FAULTS must be a JSON object of fault "
            "settings",
        ),
        ('{"rate_429": 3}', "invalid fault settings: rate_429 must be between 0 and 1"),
        ('{"nope": 1}', "invalid fault settings: unknown fault settings: nope"),
    ],
)
def test_serve_with_bad_faults_is_one_line(tmp_path: Path, faults: str, line: str) -> None:
    result = _serve(tmp_path, env={"PERSONACTL_SERVE_FAULTS": faults})
    assert result.code == 1
    assert result.err.splitlines() == [f"error: {line}"]


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = _serve(tmp_path, "--port", str(port))
    assert result.code == 1
    lines = result.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use")


def _nested(levels: int, innermost: object) -> object:
    value = innermost
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels", [63, 64, 65, 66])
def test_the_depth_limit_counts_every_value_from_the_root_at_0(levels: int) -> None:
    from personactl.serve.app import MAX_DEPTH, _depth_ok

    # the innermost value (a scalar, an empty array) lies at depth `levels`
    assert _depth_ok(_nested(levels, 1)) == (levels <= MAX_DEPTH)
    assert _depth_ok(_nested(levels, [])) == (levels <= MAX_DEPTH)
    assert _depth_ok({"wide": [_nested(levels - 2, 1)] * 3}) == (levels <= MAX_DEPTH)


def test_a_shallow_body_of_many_brackets_is_accepted(client: httpx.Client) -> None:
    # more brackets than the depth limit, nested 3 deep: walked, not refused
    body = {**PERSONA, "layers": {"llm": {"tools": [{"type": "function"} for _ in range(80)]}}}
    resp = client.post("/v2/personas", json=body)
    assert resp.status_code == 200, resp.text
