"""The messages and output of the deploy side (issue 10, "Messages and output"), each
asserted as the exact line a real `personactl` subprocess prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SECRETS, Result, assert_no_secrets, run_cli

WEATHER = "personas/weather-assistant.yaml"
CONTEXT = "  context: Help users get the weather for a given location.\n"


def cli(repo: Path, *args: str, code: int | None = 0, **env: str) -> Result:
    r = run_cli(*args, cwd=repo, env={**SECRETS, **env}, input="")
    assert_no_secrets(r.out, r.err, root=repo)
    if code is not None:
        assert r.code == code, r.both
    return r


def applied(repo: Path) -> Path:
    cli(repo, "apply", "--auto-approve")
    return repo


def edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def field_block(plan: str, field: str) -> list[str]:
    """The lines of one field's diff in a text plan, its header first."""
    lines = plan.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"    ~ {field}:"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" " * 6))
    return lines[start:end]


# -- 1. word diff ---------------------------------------------------------------------

LONG = (
    "Help users get the weather for a given location, in the units they ask for, and "
    "say where the forecast comes from when they ask about tomorrow or the weekend."
)


def test_long_single_line_string_changes_as_a_wrapped_word_diff(example_repo: Path) -> None:
    repo = example_repo
    edit(repo, WEATHER, CONTEXT, f"  context: >-\n    {LONG}\n")
    applied(repo)
    edit(repo, WEATHER, "in the units", "in the metric units")
    edit(repo, WEATHER, "the weekend.", "the coming weekend, briefly.")
    block = field_block(cli(repo, "plan").out, "/context")
    assert block == [
        "    ~ /context:",
        " " * 10 + "Help users get the weather for a given location, in the {+metric+} units "
        "they ask for, and",
        " " * 10 + "say where the forecast comes from when they ask about tomorrow or the "
        "[-weekend.-]",
        "          {+coming weekend, briefly.+}",
    ]
    assert all(len(line) <= 100 for line in block)
    # the Markdown plan shows the same words inside its diff block
    md = cli(repo, "plan", "--format", "markdown").out
    assert "    Help users get the weather for a given location, in the {+metric+} units" in md


def test_a_long_string_replaced_by_another_is_a_line_diff(example_repo: Path) -> None:
    """Too few words in common for a word diff to help: one line each."""
    repo = example_repo
    edit(repo, WEATHER, CONTEXT, f"  context: >-\n    {LONG}\n")
    applied(repo)
    edit(repo, WEATHER, LONG, "Answer in French.")
    assert field_block(cli(repo, "plan").out, "/context") == [
        "    ~ /context:",
        "        @@ -1 +1 @@",
        f"        -{LONG}",
        "        +Answer in French.",
    ]


def test_multi_line_strings_keep_the_line_diff(example_repo: Path) -> None:
    repo = example_repo
    edit(repo, WEATHER, CONTEXT, "  context: |\n    one\n    two\n")
    applied(repo)
    edit(repo, WEATHER, "    two\n", "    three\n")
    assert field_block(cli(repo, "plan").out, "/context") == [
        "    ~ /context:",
        "        @@ -1,2 +1,2 @@",
        "         one",
        "        -two",
        "        +three",
    ]


# -- 2. a renamed file ----------------------------------------------------------------


def test_renamed_file_suggests_state_mv(example_repo: Path) -> None:
    repo = applied(example_repo)
    (repo / WEATHER).rename(repo / "personas/weather.yaml")
    hint = (
        "    note: same content as weather-assistant, which left the configuration (renamed?): "
        "`personactl state mv weather-assistant weather` keeps the deployed resource instead "
        "of deleting and recreating it"
    )
    for args in (["plan"], ["plan", "--prune"]):
        assert hint in cli(repo, *args).out.splitlines()
    # a different content is not a rename
    edit(repo, "personas/weather.yaml", "Weather Assistant", "Weather Helper")
    assert "note: same content" not in cli(repo, "plan", "--prune").out
    # and the hint does what it says
    edit(repo, "personas/weather.yaml", "Weather Helper", "Weather Assistant")
    cli(repo, "state", "mv", "weather-assistant", "weather")
    assert "No changes." in cli(repo, "plan").out


# -- 3. kept resources, shortened lists -----------------------------------------------


def test_kept_resources_are_not_no_changes(example_repo: Path) -> None:
    repo = applied(example_repo)
    (repo / WEATHER).unlink()
    out = cli(repo, "plan").out
    assert "No changes" not in out
    assert out.splitlines()[-2:] == [
        "1 managed resource is no longer in the configuration and is kept "
        "(use --prune to delete): weather-assistant",
        "Plan: 0 to create, 0 to update, 0 to delete.",
    ]
    md = cli(repo, "plan", "--format", "markdown").out
    assert "No changes" not in md
    assert "Kept (no longer in configuration, no `--prune`): `weather-assistant`" in md


def test_long_address_lists_are_shortened(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "personas").mkdir(parents=True)
    (repo / "personactl.yaml").write_text(
        "version: 1\ndefault_environment: dev\nenvironments:\n  dev: {backend: local}\n"
    )
    for i in range(67):
        (repo / f"personas/p{i:02}.yaml").write_text(
            f"persona:\n  persona_name: P{i}\n  system_prompt: hi\n"
        )
    applied(repo)
    for i in range(67):
        (repo / f"personas/p{i:02}.yaml").unlink()
    (repo / "personas/p00.yaml").write_text("persona:\n  persona_name: P0\n  system_prompt: hi\n")
    kept = ", ".join(f"p{i:02}" for i in range(1, 11))
    assert (
        "66 managed resources are no longer in the configuration and are kept "
        f"(use --prune to delete): {kept}, … and 56 more"
    ) in cli(repo, "plan").out.splitlines()


# -- 4. --target ----------------------------------------------------------------------


def test_target_with_no_such_address_is_one_line(example_repo: Path) -> None:
    r = cli(example_repo, "plan", "--target", "weather-asistant", code=1)
    assert r.out == ""
    assert r.err == (
        "error: --target weather-asistant: no such address "
        "(hint: did you mean 'weather-assistant'?)\n"
    )
    r = cli(example_repo, "plan", "--target", "nothing/*", code=1)
    assert r.err == "error: --target nothing/*: no such address\n"


# -- 5. a stale lock --------------------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def stale_lock(repo: Path, env: str) -> int:
    import getpass
    import socket

    pid = dead_pid()
    lock = repo / f".personactl/state/{env}.json.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = f"{getpass.getuser()}@{socket.gethostname()}"
    lock.write_text(
        json.dumps(
            {
                "holder": holder,
                "pid": pid,
                "operation": "apply",
                "started_at": "2026-01-01T00:00:00Z",
            }
        )
    )
    return pid


def test_stale_lock_of_a_dead_process_says_so_once(example_repo: Path) -> None:
    import getpass
    import socket

    repo = example_repo
    pid = stale_lock(repo, "local")
    r = cli(repo, "apply", "--auto-approve", code=1)
    assert r.err == (
        "error: state is locked by a process that is no longer running: held by "
        f"{getpass.getuser()}@{socket.gethostname()} (pid {pid}) running apply since "
        "2026-01-01T00:00:00Z (hint: clear the stale lock with `personactl state unlock`)\n"
    )
    cli(repo, "state", "unlock")
    cli(repo, "apply", "--auto-approve")


# -- 6. a plan applied twice ------------------------------------------------------------


def test_reapplying_an_applied_plan_says_already_applied(example_repo: Path) -> None:
    repo = applied(example_repo)
    edit(repo, WEATHER, "Weather Assistant", "Weather Helper")
    cli(repo, "plan", "--out", "plan.json")
    cli(repo, "apply", "plan.json")
    r = cli(repo, "apply", "plan.json", code=1)
    assert r.err == (
        "error: plan already applied: state records every change it makes; nothing was changed "
        "(hint: `personactl plan` shows what is left to do)\n"
    )


# -- 7. (sensitive) -> (sensitive) ------------------------------------------------------


def test_sensitive_changes_are_explained(example_repo: Path) -> None:
    repo = applied(example_repo)
    r = cli(repo, "plan", "--target", "weather-assistant", TTS_API_KEY="tts-rotated")
    assert (
        '    ~ /layers/tts/api_key: "(sensitive)" -> "(sensitive)"  # secret value changed'
        in r.out.splitlines()
    )
    pid = dict(line.split("\t") for line in cli(repo, "state", "list").out.splitlines())
    cli(repo, "state", "rm", "weather-assistant")
    cli(repo, "import", "weather-assistant", pid["weather-assistant"])
    lines = cli(repo, "plan", "--target", "weather-assistant").out.splitlines()
    assert (
        '    ~ /layers/tts/api_key: "(sensitive)" -> "(sensitive)"  # not known after import'
        in lines
    )


# -- 8. empty state list ----------------------------------------------------------------


def test_empty_state_list_says_so_on_stderr(example_repo: Path) -> None:
    r = cli(example_repo, "state", "list")
    assert r.out == ""
    assert r.err == "no resources in state for environment 'local'\n"


# -- 9. local conversations -------------------------------------------------------------


def test_conversation_on_the_local_backend_has_a_local_url(example_repo: Path) -> None:
    repo = applied(example_repo)
    out = cli(repo, "conversation", "create", "maya", "--var", "user_name=Maya").out
    cid = re.search(r"^conversation_id: (c[0-9a-f]{12})$", out, re.M)
    assert cid, out
    assert f"conversation_url: local://conversations/{cid.group(1)}" in out.splitlines()


# -- 10. hints carry --env --------------------------------------------------------------

STAGING = "  staging:\n    backend: local\n"


def test_hints_name_the_environment(example_repo: Path) -> None:
    repo = example_repo
    edit(repo, "personactl.yaml", "environments:\n", "environments:\n" + STAGING)
    pid = stale_lock(repo, "staging")
    r = cli(repo, "--env", "staging", "apply", "--auto-approve", code=1)
    assert r.err.endswith(
        f"(pid {pid}) running apply since 2026-01-01T00:00:00Z "
        "(hint: clear the stale lock with `personactl --env staging state unlock`)\n"
    )
    cli(repo, "--env", "staging", "state", "unlock")
    r = cli(repo, "--env", "staging", "plan", "--out", "plan.json")
    assert r.err == (
        "Saved the plan to plan.json; apply it with `personactl --env staging apply plan.json`.\n"
    )
    cli(repo, "--env", "staging", "apply", "plan.json")
    r = cli(repo, "--env", "staging", "apply", "plan.json", code=1)
    assert r.err.endswith("(hint: `personactl --env staging plan` shows what is left to do)\n")


# -- 11. output files and the umask -----------------------------------------------------


def run_with_umask(umask: int, repo: Path, *args: str) -> None:
    code = (
        "import os, sys; os.umask(int(sys.argv[1], 8)); "
        "from personactl.cli import main; sys.argv[1:] = sys.argv[2:]; main(sys.argv[1:])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, oct(umask), *args],
        cwd=repo,
        env={**os.environ, **SECRETS},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_output_files_honour_the_umask(example_repo: Path, umask: int) -> None:
    repo = example_repo
    run_with_umask(umask, repo, "render", "--out", "build")
    run_with_umask(umask, repo, "schema", "--out", "schemas")
    run_with_umask(umask, repo, "plan", "--out", "plan.json")
    outputs = [repo / "plan.json", *(repo / "build").rglob("*.json"), *(repo / "schemas").iterdir()]
    assert len(outputs) > 8
    for path in outputs:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
    run_with_umask(umask, repo, "apply", "--auto-approve")
    state = repo / ".personactl/state/local.json"
    assert state.stat().st_mode & 0o777 == 0o600  # it holds secret digests


# -- 12. init -----------------------------------------------------------------------------


def test_init_refuses_lists_overwrites_and_says_next(tmp_path: Path) -> None:
    r = run_cli("init", "new", cwd=tmp_path)
    assert r.code == 0, r.err
    assert r.err == (
        "Created 20 files in new. Next: cd new && personactl validate && personactl plan\n"
    )
    target = tmp_path / "new"
    (target / "personas/storyteller.yaml").write_text("# mine\n")
    r = run_cli("init", cwd=target)
    assert (r.code, r.out) == (1, "")
    assert r.err.startswith(f"error: {target}: init would overwrite 14 files: .github/workflows/")
    assert r.err.endswith(", … and 4 more (hint: pass --force to overwrite them)\n")
    assert len(r.err.splitlines()) == 1
    assert (target / "personas/storyteller.yaml").read_text() == "# mine\n"
    r = run_cli("init", "--force", cwd=target)
    assert r.code == 0, r.err
    lines = r.err.splitlines()
    assert "Overwrote personas/storyteller.yaml" in lines
    assert len([line for line in lines if line.startswith("Overwrote ")]) == 14
    # in the cwd: no `cd`
    assert lines[-1] == (
        f"Created 20 files in {target}. Next: personactl validate && personactl plan"
    )


def test_init_schemas_survive_a_clone(tmp_path: Path) -> None:
    """The modelines point at schemas that `git` keeps: committed, a clone has them."""
    target = tmp_path / "new"
    assert run_cli("init", str(target)).code == 0
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run([*git, *args], cwd=target, check=True)
    subprocess.run(["git", "clone", "-q", str(target), str(tmp_path / "clone")], check=True)
    clone = tmp_path / "clone"
    assert (clone / ".personactl/schema/persona-file.json").is_file()
    (target / "build").mkdir()
    (target / "build/x.json").write_text("{}")
    (target / ".personactl/cache").mkdir(exist_ok=True)
    (target / ".personactl/cache/y").write_text("")
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=target, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""  # build/ and the working files are ignored


# -- 13. render --format yaml, preview --format text --------------------------------------


def test_render_yaml_writes_prompts_as_blocks(example_repo: Path) -> None:
    out = cli(example_repo, "render", "--format", "yaml", "storyteller/children").out
    lines = out.splitlines()
    at = lines.index("system_prompt: |-")
    assert lines[at + 1] == "  You are a storyteller. You like telling stories to children."


def test_preview_text_shows_the_system_message_as_text(example_repo: Path) -> None:
    out = cli(example_repo, "preview", "weather-assistant", "--format", "text").out
    assert out == (
        "model: custom_model_here  (streamed)\n"
        "tools: get_current_weather(location, unit?)\n"
        "\n--- system ---\n"
        "You are a helpful assistant at Acme.\n\n"
        "Help users get the weather for a given location.\n"
        "\n--- user ---\nHello!\n"
    )
    assert json.loads(cli(example_repo, "preview", "weather-assistant").out)["stream"] is True


# -- 14. colour ---------------------------------------------------------------------------


def run_on_a_tty(repo: Path, *args: str, stream: str = "stdout", **env: str) -> str:
    """The CLI with `stream` (stdout or stderr) on a pseudo-terminal, the other one
    discarded: what the terminal receives."""
    import pty

    leader, follower = pty.openpty()
    full = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "personactl", *args],
        cwd=repo,
        env={**full, **SECRETS, "TERM": "xterm", **env},
        stdin=subprocess.DEVNULL,
        stdout=follower if stream == "stdout" else subprocess.DEVNULL,
        stderr=follower if stream == "stderr" else subprocess.DEVNULL,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


RED, GREEN, YELLOW, RESET = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[0m"


def test_plan_lines_are_coloured_on_a_tty_only(example_repo: Path) -> None:
    repo = applied(example_repo)
    edit(repo, WEATHER, "Weather Assistant", "Weather Helper")
    out = run_on_a_tty(repo, "plan")
    assert f"{YELLOW}~ update weather-assistant" in out
    assert f'{YELLOW}    ~ /persona_name: "Weather Assistant" -> "Weather Helper"{RESET}' in out
    for env in ({"TERM": "dumb"}, {"NO_COLOR": "1"}):
        assert "\x1b[" not in run_on_a_tty(repo, "plan", **env)
    assert "\x1b[" not in run_on_a_tty(repo, "plan", "--no-color")
    assert "\x1b[" not in cli(repo, "plan").out  # not a terminal


# -- 15. error lines ----------------------------------------------------------------------

NOPE = (
    "error: no persona 'nope' in this repository "
    "(hint: run `personactl list` to see every address)\n"
)


def test_unlocated_errors_start_with_error_and_located_ones_do_not(example_repo: Path) -> None:
    repo = example_repo
    assert cli(repo, "render", "nope", code=1).err == NOPE
    assert cli(repo, "preview", "weather-assistant", "--var", "novalue", code=1).err == (
        "error: --var 'novalue' is not KEY=VALUE\n"
    )
    edit(repo, WEATHER, CONTEXT, CONTEXT.replace("context", "contxt"))
    assert cli(repo, "render", "weather-assistant", code=1).err == (
        f"{WEATHER}:6:3: weather-assistant: unknown key 'contxt' (hint: did you mean 'context'?)\n"
    )
    # validate's total line is no error line
    assert cli(repo, "validate", code=1).err.splitlines()[-1] == "1 error in 1 file"


def test_the_error_label_is_red_on_a_tty_only(example_repo: Path) -> None:
    repo = example_repo
    assert run_on_a_tty(repo, "render", "nope", stream="stderr") == f"{RED}error{RESET}{NOPE[5:]}"
    for env in ({"TERM": "dumb"}, {"NO_COLOR": "1"}):
        assert run_on_a_tty(repo, "render", "nope", stream="stderr", **env) == NOPE
    assert run_on_a_tty(repo, "--no-color", "render", "nope", stream="stderr") == NOPE
    assert run_on_a_tty(repo, "render", "nope", "--no-color", stream="stderr") == NOPE
    # a located line has no label to colour
    edit(repo, WEATHER, CONTEXT, CONTEXT.replace("context", "contxt"))
    assert "\x1b[" not in run_on_a_tty(repo, "render", "weather-assistant", stream="stderr")
