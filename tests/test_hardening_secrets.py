"""A resolved secret never reaches a message in any representation, and a value that
cannot be sent as is (a line break) is refused before anything is sent (issue 12)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from personactl import sensitive
from personactl.deploy.backends.tavus import TavusBackend
from personactl.errors import ApiError
from personactl.kinds import kind_of
from personactl.sensitive import MASK, StreamScrubber, scrub
from tests.conftest import SECRETS, assert_no_secrets, build_tree, run_cli
from tests.llmserver import LlmServer, llm_fixture  # noqa: F401 (the llm fixture)
from tests.serverfix import LiveServer, server  # noqa: F401
from tests.test_faults import ENV, make_repo

# Unlike SECRETS: quotes, a slash, a plus, an ampersand, a space and non-ASCII letters,
# so that every encoding differs from the value.
ODD = "pä$$/wörd+&=x y\"'-Zq9"
PLAIN = "plain-Secret-Value-0042"


@pytest.fixture(autouse=True)
def _remembered() -> None:
    for value in (ODD, PLAIN):
        sensitive.remember(value)


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


ENCODINGS: dict[str, Any] = {
    "as is": lambda v: v,
    "bytes repr": lambda v: repr(v.encode())[2:-1],
    "str repr": lambda v: repr(v)[1:-1],
    "JSON-escaped": lambda v: json.dumps(v)[1:-1],
    "JSON-escaped, not ASCII": lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
    "URL-quoted": quote,
    "URL-quoted, no safe": lambda v: quote(v, safe=""),
    "URL-quoted, plus": quote_plus,
    "URL-quoted JSON": lambda v: quote_plus(json.dumps(v)[1:-1]),
    "bytes repr of JSON": lambda v: repr(json.dumps(v).encode())[3:-2],
}


@pytest.mark.parametrize("value", [ODD, PLAIN], ids=["odd", "plain"])
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_every_escape_of_a_value_is_masked(value: str, encoding: str) -> None:
    shown = ENCODINGS[encoding](value)
    assert (
        scrub(f"HTTP 400: bad value <{shown}> in body") == f"HTTP 400: bad value <{MASK}> in body"
    )


@pytest.mark.parametrize("value", [ODD, PLAIN], ids=["odd", "plain"])
@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("urlsafe", [False, True])
def test_base64_of_a_body_is_masked_at_every_alignment(
    value: str, offset: int, urlsafe: bool
) -> None:
    body = json.dumps({"pad": "x" * offset, "key": value, "after": "tail"})
    blob = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(body.encode()).decode()
    out = scrub(f"echo: {blob}")
    assert out.count(MASK) == 1
    # what is left of the blob is the base64 around the value, at most 3 characters
    # of it touched by the value's bits
    before, after = out.removeprefix("echo: ").split(MASK)
    assert blob.startswith(before) and blob.endswith(after)
    sent = len(json.dumps(value)[1:-1]) * 4 / 3  # base64 characters of the value as sent
    assert sent - 2 <= len(blob) - len(before) - len(after) <= sent


@pytest.mark.parametrize("value", [ODD, PLAIN], ids=["odd", "plain"])
def test_any_prefix_of_8_or_more_characters_is_masked(value: str) -> None:
    for cut in range(8, len(value) + 1):
        assert scrub(f"body: {value[:cut]}...") == f"body: {MASK}..."
    # an echo cut inside the JSON-escaped or base64 form is masked as well
    escaped = json.dumps(value)[1:-1]
    assert scrub(f"x {escaped[:9]}") == f"x {MASK}"
    assert scrub(b64(value)[:10]) == MASK
    # seven characters are not enough to tell a secret from a word
    assert scrub(f"body: {value[:7]}") == f"body: {value[:7]}"


def test_a_message_cut_at_200_characters_inside_a_secret() -> None:
    body = json.dumps({"system_prompt": "x" * 150, "api_key": PLAIN})
    cut = body[:200]
    assert PLAIN[:8] in cut and PLAIN not in cut
    assert scrub(cut) == body[: body.index(PLAIN)] + MASK


def test_scrub_stays_fast() -> None:
    for i in range(50):  # many secrets known
        sensitive.remember(f"bench-secret-{i:03d}-{'k' * 30}")
    message = "POST /v2/personas failed: HTTP 400: " + "an ordinary word " * 60
    start = time.perf_counter()
    for _ in range(2000):
        assert scrub(message) == message
    assert time.perf_counter() - start < 1.0  # ~20 us a message on a loaded machine


@pytest.mark.parametrize("value", [ODD, PLAIN], ids=["odd", "plain"])
def test_a_stream_masks_a_secret_split_anywhere(value: str) -> None:
    text = f"before {json.dumps(value)[1:-1]} middle {value[:12]} after {value}"
    expected = f"before {MASK} middle {MASK} after {MASK}"
    for split in range(1, len(text)):
        stream = StreamScrubber()
        shown = stream.feed(text[:split]) + stream.feed(text[split:]) + stream.end()
        assert shown == expected, split
    stream = StreamScrubber()
    assert "".join(stream.feed(c) for c in text) + stream.end() == expected


# -- line breaks: refused before anything is sent ------------------------------------

NEWLINE = {**ENV, "CUSTOM_LLM_API_KEY": SECRETS["CUSTOM_LLM_API_KEY"] + "\n"}
REFUSED = (
    "secret CUSTOM_LLM_API_KEY contains a line break (CR or LF), which is never sent "
    "(used by p01, p02) (hint: strip it, e.g. "
    "export CUSTOM_LLM_API_KEY=\"$(tr -d '\\r\\n' < FILE)\")\n"
)


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_secret_with_a_trailing_newline_is_refused_before_sending(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
    command: str,
) -> None:
    repo = make_repo(tmp_path, server.url, 2)
    args = ["apply", "--auto-approve"] if command == "apply" else ["plan"]
    result = run_cli(*args, cwd=repo, env=NEWLINE)
    # located at the string calling secret() (a saved plan below has no positions)
    assert (result.code, result.out, result.err) == (
        1,
        "",
        "personas/_bases/base.yaml:7:16: " + REFUSED,
    )
    assert server.stats()["total"] == 0  # not one request: no retries, no bytes repr
    assert_no_secrets(result.out, result.err, root=repo, databases=[tmp_path / "serve.sqlite"])


def test_a_saved_plan_is_refused_when_a_secret_gained_a_line_break(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path, server.url, 2)
    planned = run_cli("plan", "--out", "plan.json", cwd=repo, env=ENV)
    assert planned.code == 0, planned.both
    server.reset_stats()
    result = run_cli("apply", "plan.json", "--auto-approve", cwd=repo, env=NEWLINE)
    assert result.code == 1
    assert result.err.endswith(f"error: {REFUSED}")  # a saved plan has no positions
    assert server.stats()["requests"].get("POST /v2/personas", 0) == 0
    assert_no_secrets(result.out, result.err, root=repo)


def test_a_carriage_return_in_a_header_secret_is_one_line(
    tmp_path: Path,
    llm: LlmServer,  # noqa: F811
) -> None:
    repo = build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": "version: 1\n",
            "personas/p.yaml": f"""
                persona:
                  system_prompt: You are terse.
                  layers:
                    llm:
                      model: my-model
                      base_url: {llm.base_url("good")}
                      api_key: "{{{{ secret('CUSTOM_LLM_API_KEY') }}}}"
                      headers:
                        X-Upstream-Key: "{{{{ secret('TTS_API_KEY') }}}}"
            """,
        },
    )
    env = {**SECRETS, "TTS_API_KEY": SECRETS["TTS_API_KEY"] + "\r"}
    result = run_cli("llm", "check", "p", cwd=repo, env=env)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: secret TTS_API_KEY contains a line break (CR or LF), which is never sent "
        "(hint: strip it, e.g. export TTS_API_KEY=\"$(tr -d '\\r\\n' < FILE)\")\n"
    )
    assert llm.received == []
    assert_no_secrets(result.out, result.err, root=repo)


def test_resolve_names_the_secret_never_the_value() -> None:
    with pytest.raises(sensitive.SecretError) as exc:
        sensitive.resolve({"k": sensitive.placeholder("K")}, {"K": PLAIN + "\r\n"})
    assert exc.value.names == ["K"]
    assert PLAIN[:8] not in str(exc.value) and "K contains a line break" in str(exc.value)


@pytest.mark.parametrize(
    "name",
    ["K", "KÉY", 'K"Q', "K\\B"],  # the last three are escaped in JSON text
)
def test_resolve_substitutes_every_placeholder_exactly(name: str) -> None:
    value = 'v"al\\ue é ☃ \udcff'  # quotes, a backslash, non-ASCII, a surrogate (bytes)
    key = sensitive.placeholder(name)
    payload = {
        "layers": {"llm": {"api_key": key, "headers": {"Authorization": f"Bearer {key}"}}},
        "tools": [{"n": 1, "f": 1.5, "b": True, "z": None, "s": [key, "plain"]}],
    }
    resolved = sensitive.resolve(payload, {name: value})
    assert resolved == {
        "layers": {
            "llm": {"api_key": value, "headers": {"Authorization": f"Bearer {value}"}},
        },
        "tools": [{"n": 1, "f": 1.5, "b": True, "z": None, "s": [value, "plain"]}],
    }
    assert payload["layers"]["llm"]["api_key"] == key  # a copy: the payload is unchanged
    assert sensitive.resolve([], {}) == [] and sensitive.resolve("x", {}) == "x"
    # what apply sends for a create: the plan's JSON text, filled in
    assert sensitive.names_in_json(json.dumps(payload)) == {name}
    text = sensitive.resolve_json(json.dumps(payload), {name: value})
    assert text is not None and json.loads(text) == resolved


def test_a_header_http_refuses_is_not_retried_nor_printed_as_bytes(
    server: LiveServer,  # noqa: F811
) -> None:
    """A library caller's key with a trailing newline: the HTTP client refuses the header
    (and prints it as b'...\\n'); one attempt, one line without the key, nothing sent."""
    key = "library-key-with-newline-5e1f\n"
    backend = TavusBackend(server.url, key, max_retries=5, backoff_base=0.01)
    retries: list[str] = []
    backend.on_retry = retries.append
    with pytest.raises(ApiError) as exc:
        list(backend.list_all(kind_of("p01")))
    backend.close()
    assert str(exc.value) == (
        "GET /v2/personas: the request cannot be sent (a header holds a line break or "
        "another character HTTP does not allow); nothing was sent"
    )
    assert (retries, backend.request_count(), server.stats()["total"]) == ([], 1, 0)
    assert scrub(f"echo {key!r} {key.encode()!r} {key[:9]}") == f"echo '{MASK}' b'{MASK}' {MASK}"
