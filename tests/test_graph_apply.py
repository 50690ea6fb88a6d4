"""Plan and apply follow the reference graph (DESIGN §6): ids created in the same apply are
`(known after apply)` in the plan, dependencies go first and the real ids are sent; pruning
a resource a configured one still references is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personactl.compile.personas import CompiledResource
from personactl.deploy.execute import waves
from personactl.deploy.plan import Change, build_plan
from personactl.deploy.state import Resource, State
from personactl.errors import UserError
from personactl.kinds import PERSONAS
from personactl.refs import placeholder
from tests.serverfix import LiveServer, server  # noqa: F401
from tests.test_plan_apply import cli, local_store


def _ids(repo: Path) -> dict[str, str]:
    data = json.loads((repo / ".personactl" / "state" / "local.json").read_text())
    return {
        a: next(v for k, v in r.items() if k.endswith("_id")) for a, r in data["resources"].items()
    }


def test_plan_shows_known_after_apply_and_apply_sends_real_ids(example_repo: Path) -> None:
    plan = cli(example_repo, "plan")
    assert '+ /tool_ids: ["(known after apply)"]' in plan.out
    assert '+ /objectives_id: "(known after apply)"' in plan.out
    data = json.loads(cli(example_repo, "plan", "--format", "json").out)
    order = [c["address"] for c in data["changes"]]
    assert "intake-assistant" in order
    assert cli(example_repo, "apply", "--auto-approve").code == 0
    ids = _ids(example_repo)
    store = local_store(example_repo)
    try:
        persona = store.get(PERSONAS, ids["intake-assistant"])
    finally:
        store.close()
    assert persona is not None
    assert persona["tool_ids"] == [ids["tools:lookup_patient"]]
    assert persona["guardrail_ids"] == [ids["guardrails:no-diagnosis"]]
    assert persona["objectives_id"] == ids["objectives:intake"]
    # nothing left to do, and the persona is rendered with the real ids now
    again = cli(example_repo, "plan", "--detailed-exitcode")
    assert again.code == 0, again.both
    rendered = json.loads(cli(example_repo, "render", "intake-assistant").out)
    assert rendered["tool_ids"] == [ids["tools:lookup_patient"]]


def _change(address: str, action: str = "create", body: dict | None = None) -> Change:
    return Change(address, action, None if action == "create" else "x", [], None, body=body)  # type: ignore[arg-type]


def test_waves_put_dependencies_first_and_dependents_first_on_delete() -> None:
    persona = _change("p", body={"tool_ids": [placeholder("tools:t")]})
    tool = _change("tools:t", body={"name": "t"})
    objectives = _change("objectives:o", body={"name": "o"})
    gone_persona = _change("q", "delete")
    gone_tool = _change("tools:u", "delete")
    got = [
        [c.address for c in wave]
        for wave in waves([persona, gone_tool, tool, gone_persona, objectives])
    ]
    assert got == [["tools:t", "objectives:o"], ["p"], ["q"], ["tools:u"]]


def test_pruning_a_referenced_resource_is_refused_naming_both() -> None:
    state = State("test")
    state.resources["tools:t"] = Resource("t1", {})
    desired = {
        "p": CompiledResource(
            "p", "personas/p.yaml", {"tool_ids": [placeholder("tools:t")]}, "personas"
        )
    }
    with pytest.raises(UserError) as info:
        build_plan(
            environment="test",
            backend="local",
            desired=desired,
            state=state,
            live={"t1": {"tool_id": "t1", "name": "t"}},
            environ={},
            prune=True,
        )
    assert info.value.problem.message == "cannot prune tools:t: p still references it"
