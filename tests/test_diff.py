"""The three-way diff (desired config, last applied state, deployed) and plan building."""

from __future__ import annotations

import json

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personactl import sensitive
from personactl.compile.personas import CompiledPersona
from personactl.deploy import diff as diff_module
from personactl.deploy.diff import fingerprint, hashed, kept_as_sent, same, three_way
from personactl.deploy.plan import Plan, build_plan, matches_target
from personactl.deploy.planfile import plan_from_data
from personactl.deploy.state import Resource, State
from personactl.digests import digest, verify
from personactl.serve.store import MASK

KEY = sensitive.placeholder("LLM_KEY")
ENV = {"LLM_KEY": "sk-unit-secret-value"}
SERVER_FIELDS = {
    "persona_id": "p0123456789ab",
    "persona_type": "user",
    "created_at": "2024-01-01T00:00:00.000Z",
    "updated_at": "2024-01-02T00:00:00.000Z",
}


def desired_persona() -> dict:
    return {
        "persona_name": "Teller",
        "system_prompt": "Line one.\nLine two.",
        "layers": {
            "llm": {"model": "m1", "api_key": KEY, "speculative_inference": True},
            "tts": {"voice_settings": {"speed": 0.5}},
        },
    }


def deployed(desired: dict, **extra) -> dict:
    """What the API hands back: secrets masked, server fields and defaults added."""
    live = json.loads(json.dumps(sensitive.resolve(desired, ENV)))
    for layer in live.get("layers", {}).values():
        if "api_key" in layer:
            layer["api_key"] = MASK
    return {**SERVER_FIELDS, **live, **extra}


def applied(desired: dict, previous: dict | None = None) -> dict:
    return hashed(desired, previous, ENV)


def diff(desired, state, live, environ=ENV):
    return three_way(desired, state, live, environ)


# -- JSON equality ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (True, 1, False),
        (False, 0, False),
        (1, 1.0, True),
        ("1", 1, False),
        ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, True),
        ([1, 2], [2, 1], False),
        ({"a": None}, {}, False),
        (None, None, True),
    ],
)
def test_same_is_json_equality(a, b, equal):
    assert same(a, b) is equal


# -- three-way diff ---------------------------------------------------------------


def test_no_diff_when_deployed_matches_despite_server_fields_and_defaults():
    want = desired_persona()
    live = deployed(want, default_replica_id="r1", document_ids=[])
    live["layers"]["tts"]["tts_engine"] = "cartesia"  # a default the API filled in
    live["layers"]["stt"] = {"stt_engine": "tavus-advanced"}
    d = diff(want, applied(want), live)
    assert d.ops == [] and d.drift == []


def test_no_diff_for_masked_secret_matching_state_hash():
    want = desired_persona()
    live = deployed(want)
    assert live["layers"]["llm"]["api_key"] == MASK
    assert diff(want, applied(want), live).ops == []
    # the API may also omit the secret entirely on read
    del live["layers"]["llm"]["api_key"]
    assert diff(want, applied(want), live).ops == []


def test_changed_scalar_is_one_replace():
    old = desired_persona()
    new = desired_persona()
    new["layers"]["llm"]["model"] = "m2"
    d = diff(new, applied(old), deployed(old))
    assert d.ops == [{"op": "replace", "path": "/layers/llm/model", "value": "m2"}]
    assert d.before == {"/layers/llm/model": "m1"}
    assert d.drift == []


def test_bool_versus_int_is_a_change():
    want = desired_persona()
    live = deployed(want)
    live["layers"]["llm"]["speculative_inference"] = 1
    d = diff(want, applied(want), live)
    assert d.ops == [{"op": "replace", "path": "/layers/llm/speculative_inference", "value": True}]


def test_int_versus_float_is_not_a_change():
    want = desired_persona()
    live = deployed(want)
    want["layers"]["tts"]["voice_settings"]["speed"] = 1
    live["layers"]["tts"]["voice_settings"]["speed"] = 1.0
    assert diff(want, applied(want), live).ops == []


def test_new_key_is_add():
    old = desired_persona()
    new = desired_persona()
    new["context"] = "Some context"
    new["layers"]["stt"] = {"stt_engine": "tavus-turbo"}
    d = diff(new, applied(old), deployed(old))
    assert d.ops == [
        {"op": "add", "path": "/layers/stt", "value": {"stt_engine": "tavus-turbo"}},
        {"op": "add", "path": "/context", "value": "Some context"},
    ]


def test_key_removed_from_config_is_removed():
    old = desired_persona()
    old["context"] = "Old context"
    new = desired_persona()
    del new["layers"]["llm"]["speculative_inference"]
    d = diff(new, applied(old), deployed(old))
    assert sorted(d.ops, key=lambda o: o["path"]) == [
        {"op": "remove", "path": "/context"},
        {"op": "remove", "path": "/layers/llm/speculative_inference"},
    ]
    assert d.before["/context"] == "Old context"


def test_removed_key_already_gone_remotely_is_no_op():
    old = desired_persona()
    old["context"] = "Old context"
    new = desired_persona()
    live = deployed(new)  # someone removed it already
    assert diff(new, applied(old), live).ops == []


def test_removed_secret_is_removed_and_masked():
    old = desired_persona()
    new = desired_persona()
    del new["layers"]["llm"]["api_key"]
    d = diff(new, applied(old), deployed(old))
    assert d.ops == [{"op": "remove", "path": "/layers/llm/api_key"}]
    assert d.before["/layers/llm/api_key"] == sensitive.MASK


def test_key_never_declared_is_ignored_even_when_server_changes_it():
    want = desired_persona()
    live = deployed(want, context="set in the Tavus dashboard", default_replica_id="r2")
    assert diff(want, applied(want), live).ops == []


def test_list_is_replaced_whole():
    old = desired_persona()
    old["layers"]["llm"]["tools"] = [{"type": "function", "function": {"name": "a"}}]
    new = json.loads(json.dumps(old))
    new["layers"]["llm"]["tools"].append({"type": "function", "function": {"name": "b"}})
    d = diff(new, applied(old), deployed(old))
    assert d.ops == [
        {"op": "replace", "path": "/layers/llm/tools", "value": new["layers"]["llm"]["tools"]}
    ]
    # list order matters
    swapped = json.loads(json.dumps(old))
    swapped["layers"]["llm"]["tools"] = list(reversed(new["layers"]["llm"]["tools"]))
    assert diff(swapped, applied(new), deployed(new)).ops[0]["op"] == "replace"


def test_secret_compared_by_hash_not_by_value():
    want = desired_persona()
    state = applied(want)
    live = deployed(want)
    assert diff(want, state, live, {"LLM_KEY": "sk-unit-secret-value"}).ops == []
    d = diff(want, state, live, {"LLM_KEY": "sk-rotated"})
    assert d.ops == [{"op": "replace", "path": "/layers/llm/api_key", "value": KEY}]
    assert d.before == {"/layers/llm/api_key": sensitive.MASK}
    assert "sk-rotated" not in json.dumps(d.__dict__)


def test_secret_without_state_hash_is_sent():
    """After an import nothing is known about the secret: it is sent (an update, masked)."""
    want = desired_persona()
    d = diff(want, {}, deployed(want))
    assert d.ops == [{"op": "replace", "path": "/layers/llm/api_key", "value": KEY}]


def test_secret_missing_remotely_is_add():
    want = desired_persona()
    live = deployed(want)
    del live["layers"]["llm"]["api_key"]
    d = diff(want, {}, live)
    assert d.ops == [{"op": "add", "path": "/layers/llm/api_key", "value": KEY}]


def test_secret_inside_list_compared_through_state():
    want = desired_persona()
    want["layers"]["llm"]["headers"] = [{"Authorization": "Bearer " + KEY}]
    state = applied(want)
    live = deployed(want)
    live["layers"]["llm"]["headers"] = [{"Authorization": "********"}]
    assert diff(want, state, live).ops == []
    d = diff(want, state, live, {"LLM_KEY": "sk-rotated"})
    assert [o["path"] for o in d.ops] == ["/layers/llm/api_key", "/layers/llm/headers"]
    assert d.before["/layers/llm/headers"] == sensitive.MASK


def test_drift_detected_when_deployed_changed_outside():
    want = desired_persona()
    live = deployed(want)
    live["persona_name"] = "Renamed in the dashboard"
    live["system_prompt"] = "Hacked."
    d = diff(want, applied(want), live)
    assert {o["path"] for o in d.ops} == {"/persona_name", "/system_prompt"}
    assert sorted(d.drift) == ["/persona_name", "/system_prompt"]
    assert d.before["/persona_name"] == "Renamed in the dashboard"


def test_config_change_is_not_drift():
    old = desired_persona()
    new = desired_persona()
    new["persona_name"] = "New name"
    assert diff(new, applied(old), deployed(old)).drift == []


def test_drift_of_key_deleted_outside():
    want = desired_persona()
    live = deployed(want)
    del live["layers"]["tts"]
    d = diff(want, applied(want), live)
    assert d.ops == [{"op": "add", "path": "/layers/tts", "value": want["layers"]["tts"]}]
    assert d.drift == ["/layers/tts"]


def test_pointer_escaping():
    want = {"layers": {"llm": {"extra_body": {"a/b": 1, "c~d": 2}}}}
    live = {"layers": {"llm": {"extra_body": {"a/b": 0, "c~d": 0}}}}
    paths = [o["path"] for o in diff(want, {}, live).ops]
    assert paths == ["/layers/llm/extra_body/a~1b", "/layers/llm/extra_body/c~0d"]


def test_patch_applied_to_deployed_gives_desired():
    """The minimal patch is a valid RFC 6902 patch that turns deployed into desired."""
    old = desired_persona()
    old["context"] = "gone soon"
    new = desired_persona()
    new["persona_name"] = "Other"
    new["layers"]["llm"]["tools"] = [{"type": "function"}]
    new["layers"]["tts"]["voice_settings"] = {"speed": 1, "emotion": ["positivity:high"]}
    live = deployed(old)
    ops = sensitive.resolve(diff(new, applied(old), live).ops, ENV)
    result = jsonpatch.JsonPatch(ops).apply(live)
    assert "context" not in result
    assert result["persona_name"] == "Other"
    assert result["layers"]["llm"]["tools"] == [{"type": "function"}]
    assert result["layers"]["tts"]["voice_settings"] == new["layers"]["tts"]["voice_settings"]
    assert result["persona_id"] == SERVER_FIELDS["persona_id"]


# -- state hashing ------------------------------------------------------------------


def test_hashed_state_keeps_digest_and_no_value():
    want = desired_persona()
    first = applied(want)
    stored = first["layers"]["llm"]["api_key"]
    assert stored.startswith("scrypt$n=16384,r=8,p=1$")
    assert ENV["LLM_KEY"] not in json.dumps(first)
    assert verify(ENV["LLM_KEY"], stored) and not verify("other", stored)
    assert applied(want, first) == first  # unchanged secret: same digest, no churn
    rotated = hashed(want, first, {"LLM_KEY": "sk-rotated"})
    assert rotated["layers"]["llm"]["api_key"] != stored


def test_digests_are_salted():
    assert digest("same", "salt-a") != digest("same", "salt-b")
    assert digest("same") == digest("same")  # one salt per value per run (memoised)
    assert digest("same") != digest("other")
    assert verify("same", digest("same"))
    assert not verify("same", "same")


def test_fingerprint_ignores_key_order():
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": True})


def test_kept_as_sent_reports_dropped_fields_not_secrets():
    sent = desired_persona()
    live = deployed(sent)
    assert kept_as_sent(sent, live) == []
    del live["layers"]["llm"]["speculative_inference"]
    live["persona_name"] = "rewritten"
    assert sorted(kept_as_sent(sent, live)) == [
        "/layers/llm/speculative_inference",
        "/persona_name",
    ]


@pytest.mark.parametrize(
    ("sent", "got", "lost"),
    [
        ({"a": {"b": [1, {"c": "x"}]}}, {"a": {"b": [1, {"c": "x"}]}}, []),
        ({"a": {"b": [1]}}, {"a": {"b": [1.0]}}, []),  # JSON equality: 1 is 1.0
        ({"a": {"b": True}}, {"a": {"b": 1}}, ["/a/b"]),  # but true is not 1
        ({"a": [True]}, {"a": [1]}, ["/a"]),
        ({"a": {"b": 1, "c": 2}}, {"a": {"c": 2, "b": 1}}, []),  # key order never matters
        ({"a": [KEY]}, {"a": [MASK]}, []),  # a secret matches what is read back
        ({"a": {"b": 1}}, {}, ["/a"]),
    ],
)
def test_kept_as_sent_compares_as_json(sent: dict, got: dict, lost: list[str]) -> None:
    assert kept_as_sent(sent, got) == lost


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([1.0, 0.0, 2.5]),
    st.sampled_from(["x", "y", KEY, MASK]),
)
_JSON = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=12,
)
_OBJECTS = st.dictionaries(st.sampled_from("abcd"), _JSON, max_size=4)


@settings(max_examples=400, deadline=None)
@given(sent=_OBJECTS, live=_OBJECTS)
def test_kept_as_sent_shortcut_agrees_with_the_walk(sent: dict, live: dict) -> None:
    """The two-encode shortcut answers "nothing lost" only where the walk finds nothing,
    and otherwise the walk answers; also for live values that share most of `sent`."""
    assert kept_as_sent(sent, live) == diff_module._lost(sent, live, "")
    assert kept_as_sent(sent, live, json.dumps(sent)) == diff_module._lost(sent, live, "")
    merged = {**sent, **{k: v for k, v in live.items() if k not in ("a", "b")}}
    assert kept_as_sent(sent, merged) == diff_module._lost(sent, merged, "")
    assert kept_as_sent(sent, merged, json.dumps(sent)) == diff_module._lost(sent, merged, "")


_TTS = sensitive.placeholder("TTS_KEY")
_TEXTS = st.sampled_from(
    ["x", 'a "quoted" \\ path\\', "é ünï 語", "\x00", "Bearer " + KEY, f"{KEY}:{_TTS}", KEY, _TTS]
)
_SECRET_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(-1e3, 1e3), _TEXTS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["k", 'q"t', "b\\s", "é", KEY]), inner, max_size=3),
    ),
    max_leaves=14,
)


@settings(max_examples=500, deadline=None)
@given(payload=st.dictionaries(st.sampled_from(["a", "layers", 'q"\\']), _SECRET_JSON, max_size=4))
def test_creates_digested_on_the_json_text_as_by_the_walk(payload: dict) -> None:
    """A create's applied payload made on its JSON text (diff.digested_json) equals the
    walk's: every string value holding a secret becomes its digest, keys never do."""
    env = {**ENV, "TTS_KEY": "sk-unit-tts-value"}
    walked = json.loads(json.dumps(hashed(payload, None, env)))
    text = diff_module.digested_json(json.dumps(payload), env, {})
    assert text is not None
    on_text = json.loads(text)
    assert on_text == walked
    assert json.dumps(on_text) == json.dumps(walked)  # types and key order alike


# -- plan building -------------------------------------------------------------------


def _compiled(address: str, payload: dict) -> CompiledPersona:
    return CompiledPersona(address, f"personas/{address}.yaml", payload)


def make_state(entries: dict[str, tuple[str, dict]]) -> State:
    state = State("test")
    for address, (pid, payload) in entries.items():
        state.resources[address] = Resource(pid, applied(payload))
    return state


def test_build_plan_actions():
    a, b, gone, vanished = (desired_persona() for _ in range(4))
    b2 = {**b, "persona_name": "B2"}
    state = make_state(
        {"a": ("pa", a), "b": ("pb", b), "gone": ("pg", gone), "vanished": ("pv", vanished)},
    )
    live = {
        "pa": deployed(a, persona_id="pa"),
        "pb": deployed(b, persona_id="pb"),
        "pg": deployed(gone, persona_id="pg"),
        # pv was deleted outside personactl; px is not managed at all
        "px": deployed(desired_persona(), persona_id="px"),
    }
    personas = {
        "a": _compiled("a", a),
        "b": _compiled("b", b2),
        "vanished": _compiled("vanished", vanished),
        "new": _compiled("new", desired_persona()),
    }

    def plan(**kw) -> Plan:
        return build_plan(
            environment="test",
            backend="local",
            desired=personas,
            state=state,
            live=live,
            environ=ENV,
            **kw,
        )

    p = plan()
    got = [(c.action, c.address, c.id, c.recreate) for c in p.changes]
    assert got == [
        ("create", "new", None, False),
        ("create", "vanished", None, True),
        ("update", "b", "pb", False),
    ]
    assert p.unmanaged_deletes == ["gone"]
    assert p.summary() == {"create": 2, "update": 1, "delete": 0}
    update = p.changes[2]
    assert update.ops == [{"op": "replace", "path": "/persona_name", "value": "B2"}]
    assert update.fingerprint == fingerprint(live["pb"])

    pruned = plan(prune=True)
    deletes = [(c.address, c.id) for c in pruned.changes if c.action == "delete"]
    assert deletes == [("gone", "pg")]
    assert all(c.id != "px" for c in pruned.changes)
    # an unmanaged persona is never touched; a create named like it says it could be adopted
    adoptable = {(c.address, c.adoptable) for c in pruned.changes if c.adoptable}
    assert adoptable == {("new", "px"), ("vanished", "px")}

    targeted = plan(targets=["b"], prune=True)
    assert [c.address for c in targeted.changes] == ["b"]


def test_plan_data_round_trips_and_holds_no_secret_values():
    want = desired_persona()
    p = build_plan(
        environment="test",
        backend="local",
        desired={"x": _compiled("x", want)},
        state=make_state({}),
        live={},
        environ=ENV,
    )
    text = json.dumps(p.data())
    assert ENV["LLM_KEY"] not in text
    again = plan_from_data(json.loads(text))
    assert again.data() == p.data()
    assert again.changes[0].body == want  # placeholders (names), resolved only at apply


@pytest.mark.parametrize(
    ("address", "targets", "hit"),
    [
        ("storyteller/children", ["storyteller"], True),
        ("storyteller/children", ["storyteller/"], True),
        ("storyteller/children", ["storyteller/children"], True),
        ("storyteller/children", ["storyteller/crime"], False),
        ("storyteller-two", ["storyteller"], False),
        ("anything", [], True),
    ],
)
def test_matches_target(address, targets, hit):
    assert matches_target(address, targets) is hit


@pytest.mark.parametrize("name", ["KÉY", 'K"Q', "K\\B"])
def test_a_secret_whose_name_json_escapes_is_found_and_digested(name: str) -> None:
    """A name JSON writes escaped (`K\\u00c9Y`) is read from the text: its secret is
    required, digested on the text as by the walk, and never kept as a placeholder."""
    key = sensitive.placeholder(name)
    payload = {"layers": {"llm": {"api_key": key, "tools": [f"Bearer {key}"]}}}
    env = {name: "sk-unit-escaped"}
    text = diff_module.digested_json(json.dumps(payload), env, {})
    assert text is not None
    assert json.loads(text) == json.loads(json.dumps(hashed(payload, None, env)))
    plan = build_plan(
        environment="test",
        backend="local",
        desired={"p": CompiledPersona("p", "personas/p.yaml", payload)},
        state=State("test"),
        live={},
        environ=env,
    )
    change = plan.changes[0]
    assert verify("sk-unit-escaped", (change.applied or {})["layers"]["llm"]["api_key"])
    assert sensitive.MASK not in json.dumps(change.applied) and "personactl-secret" not in (
        change.applied_json or ""
    )
    assert list(change.secret_digests) == [name]
