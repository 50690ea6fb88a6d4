"""Shared test helpers: project trees under tmp_path, the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ("tests.pgfix",)  # postgres_cluster, pg_dsn

REPO = Path(__file__).resolve().parent.parent
# Secret values used by tests; every test that runs a command greps outputs for them.
SECRETS = {
    "CUSTOM_LLM_API_KEY": "sk-llm-DO-NOT-LEAK-4f9a1c",
    "TTS_API_KEY": "tts-DO-NOT-LEAK-77b2e0",
    "INTAKE_TOOL_TOKEN": "tok-intake-DO-NOT-LEAK-3d81aa",
}
# what `validate` says of the example repository
EXAMPLE_VALID = (
    "5 personas, 1 objective sets, 1 guardrails, 1 tools and 1 conversation templates are valid.\n"
)
# the folders of the example repository (besides personactl.yaml)
EXAMPLE_DIRS = ("personas", "objectives", "guardrails", "tools", "templates", "conversations")


def build_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write {relative path: text} under root (text is dedented); returns root."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> Result:
    """Run the real `personactl` in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "personactl", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_no_secrets(*texts: str, root: Path | None = None) -> None:
    """No secret value in the given texts, nor in any file under root."""
    for value in SECRETS.values():
        for text in texts:
            assert value not in text
        if root is not None:
            for path in root.rglob("*"):
                if path.is_file():
                    assert value.encode() not in path.read_bytes(), path


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep tests out of the real home and environment."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    for name in ("TAVUS_API_KEY", "PERSONACTL_SERVE_FAULTS", "PERSONACTL_NO_CACHE", *SECRETS):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A copy of the example repository at the root of this project."""
    import shutil

    dest = tmp_path / "repo"
    dest.mkdir()
    for name in ("personactl.yaml", *EXAMPLE_DIRS):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy(src, dest / name)
    return dest


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI in-process, through its real error boundary (`main`)."""
    from personactl.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture
def cli_run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Like run_cli, but in-process (through `main`, the real error boundary)."""
    from personactl.cli import main

    def run(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Result:
        capsys.readouterr()
        with monkeypatch.context() as patch:
            if cwd is not None:
                patch.chdir(cwd)
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            with pytest.raises(SystemExit) as exc:
                main(list(args))
        out, err = capsys.readouterr()
        return Result(int(exc.value.code or 0), out, err)

    return run
