"""Secret digests: scrypt in plan and state files, memoised per run, old digests still match."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from personactl import digests, sensitive
from personactl.deploy.diff import three_way
from personactl.digests import derive, verify
from tests.conftest import SECRETS, build_tree
from tests.test_plan_apply import apply_all, cli, deploy

DIGEST = re.compile(r"(?:scrypt|salted-sha256)[$:][^\"]+")


def legacy(value: str, salt: str = "0123456789abcdef") -> str:
    """A digest as personactl wrote them before scrypt: one salted SHA-256."""
    return f"salted-sha256:{salt}:" + hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()


def downgrade(text: str) -> str:
    """Every scrypt digest in a state or plan file rewritten in the old format."""

    def old(match: re.Match[str]) -> str:
        (value,) = [v for v in SECRETS.values() if verify(v, match.group(0))]
        return legacy(value)

    return DIGEST.sub(old, text)


def test_plan_file_digests_are_scrypt_not_plain_sha256(example_repo: Path) -> None:
    cli(example_repo, "plan", "--out", "plan.json")
    text = (example_repo / "plan.json").read_text()
    found = DIGEST.findall(text)
    assert found and all(d.startswith("scrypt$n=16384,r=8,p=1$") for d in found)
    for value in SECRETS.values():
        assert hashlib.sha256(value.encode()).hexdigest() not in text
    for d in found:
        salt, hexed = d.split("$")[2:]
        for value in SECRETS.values():
            assert hexed != hashlib.sha256(value.encode()).hexdigest()
            assert hexed != legacy(value, salt).split(":")[2]
        assert any(verify(v, d) for v in SECRETS.values())


def test_state_with_old_digests_shows_no_update(example_repo: Path) -> None:
    deploy(example_repo)
    state = example_repo / ".personactl" / "state" / "local.json"
    old = downgrade(state.read_text())
    assert "salted-sha256:" in old and "scrypt$" not in old
    state.write_text(old)
    r = cli(example_repo, "plan", "--detailed-exitcode")
    assert "No changes." in r.out and "(sensitive)" not in r.out


def test_secret_in_a_list_with_an_old_digest_is_no_update() -> None:
    key = sensitive.placeholder("K")
    environ = {"K": "sk-list-secret"}
    desired = {"document_tags": ["public", key], "layers": {"llm": {"api_key": key}}}
    state = {"document_tags": ["public", legacy("sk-list-secret")]}
    state["layers"] = {"llm": {"api_key": legacy("sk-list-secret", "feed")}}
    live = {"document_tags": ["public", "(masked)"], "layers": {"llm": {"api_key": "(masked)"}}}
    assert three_way(desired, state, live, environ).ops == []
    rotated = three_way(desired, state, live, {"K": "sk-rotated"})
    assert [op["path"] for op in rotated.ops] == ["/document_tags", "/layers/llm/api_key"]


def test_saved_plan_with_old_digests_still_applies(example_repo: Path) -> None:
    cli(example_repo, "plan", "--out", "plan.json")
    plan = example_repo / "plan.json"
    plan.write_text(downgrade(plan.read_text()))
    r = cli(example_repo, "apply", "plan.json")
    assert "Apply complete: 8 created" in r.out


def test_an_update_rewrites_old_digests_as_scrypt(example_repo: Path) -> None:
    deploy(example_repo)
    state = example_repo / ".personactl" / "state" / "local.json"
    state.write_text(downgrade(state.read_text()))
    prompt = example_repo / "personas" / "weather-assistant.yaml"
    prompt.write_text(prompt.read_text().replace("persona_name: ", "persona_name: New "))
    apply_all(example_repo)
    weather = json.loads(state.read_text())["resources"]["weather-assistant"]["applied"]
    assert weather["layers"]["llm"]["api_key"].startswith("scrypt$")


def _many(root: Path, count: int) -> Path:
    files = {
        "personactl.yaml": """
            version: 1
            default_environment: local
            environments: {local: {backend: local}}
        """
    }
    for i in range(count):
        files[f"personas/p{i:03}.yaml"] = f"""
            persona:
              persona_name: P{i}
              system_prompt: Hello.
              layers:
                llm:
                  model: m
                  base_url: https://llm.example.com/v1
                  api_key: "{{{{ secret('CUSTOM_LLM_API_KEY') }}}}"
        """
    return build_tree(root, files)


def _derivations(repo: Path, apply: bool) -> int:
    """scrypt derivations of one plan (and apply) in a process of its own, as far as
    digests are concerned: no salt or derivation remembered from earlier."""
    from personactl.compile.compilation import compile_project
    from personactl.deploy.engine import apply as apply_all
    from personactl.deploy.engine import make_plan, open_backend, open_state

    digests._run_salts.clear()
    digests._derived.clear()
    derive.cache_clear()
    comp = compile_project(root=repo)
    env: dict[str, Any] = dict(SECRETS)
    if apply:
        apply_all(comp.project, parallelism=4, environ=env)
        return derive.cache_info().misses
    backend = open_backend(comp.project, comp.env)
    try:
        make_plan(comp, backend, open_state(comp.project, comp.env).load(), environ=env)
    finally:
        backend.close()
    return derive.cache_info().misses


def test_personas_sharing_a_secret_cost_one_scrypt_per_run(tmp_path: Path) -> None:
    repo = _many(tmp_path / "repo", 30)
    assert _derivations(repo, apply=True) == 1
    # the next run verifies 30 state digests that share one salt: one derivation again
    assert _derivations(repo, apply=False) == 1


def test_a_remembered_match_is_only_that_exact_pair() -> None:
    stored = digests.digest("value-one")
    assert digests.verify("value-one", stored) and digests.verify("value-one", stored)
    tampered = stored[:-1] + ("0" if stored[-1] != "0" else "1")
    assert not digests.verify("value-one", tampered)
    assert not digests.verify("value-two", stored)


def test_digest_all_derives_new_values_at_once_and_the_memo_answers_after() -> None:
    digests._run_salts.clear()
    digests._derived.clear()
    derive.cache_clear()
    digests.digest_all(["value-one", "value-two", "value-one"])
    assert derive.cache_info().misses == 2
    assert digests.digest("value-one") == digests.digest("value-one")
    digests.digest_all(["value-one", "value-two"])  # memoised: nothing derived again
    assert derive.cache_info().misses == 2
