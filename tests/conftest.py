"""Shared test helpers: project trees under tmp_path, the real CLI in a subprocess."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

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
    "5 personas, 1 objective set, 1 guardrail, 1 tool and 1 conversation template are valid.\n"
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


def _escapes(text: str) -> dict[str, str]:
    """How a message may quote `text` (kind -> form)."""
    return {
        "as is": text,
        "bytes repr": repr(text.encode())[2:-1],
        "str repr": repr(text)[1:-1],
        "JSON-escaped": json.dumps(text)[1:-1],
        "JSON-escaped, not ASCII": json.dumps(text, ensure_ascii=False)[1:-1],
        "URL-quoted": quote(text),
        "URL-quoted, no safe": quote(text, safe=""),
        "URL-quoted, plus": quote_plus(text),
    }


def _base64_inside(data: bytes, offset: int) -> str:
    """What base64 of `data` always looks like at `offset` (mod 3) inside a larger blob:
    the characters that do not change when the bytes around it do (zeros vs ones)."""
    low = base64.b64encode(bytes(offset) + data + bytes(3)).decode()
    high = base64.b64encode(b"\xff" * offset + data + b"\xff" * 3).decode()
    runs = "".join(a if a == b else " " for a, b in zip(low, high, strict=True)).split()
    return max(runs, key=len)  # the value's run; padding may agree elsewhere


def _leak_forms() -> dict[bytes, str]:
    """The first PREFIX characters (all of a shorter form) of every representation of
    every SECRETS value, as UTF-8 -> what it is.  Any leaked prefix of PREFIX or more
    characters, of any form, contains one of these."""
    found: dict[bytes, str] = {}
    for name, value in SECRETS.items():
        texts = {
            f"{outer} of {inner}": shown
            for inner, text in _escapes(value).items()
            if inner.startswith(("as is", "JSON"))
            for outer, shown in _escapes(text).items()
        }
        for kind, text in list(texts.items()):
            for offset in range(3):
                inside = _base64_inside(text.encode(), offset)
                texts[f"base64 at offset {offset} of {kind}"] = inside
                texts[f"URL-safe base64 at offset {offset} of {kind}"] = inside.translate(
                    str.maketrans("+/", "-_")
                )
        for kind, text in texts.items():
            found.setdefault(text[:PREFIX].encode(), f"{name} ({kind})")
    return found


PREFIX = 8  # an echo cut at N characters still shows this many of a secret
_FORMS = _leak_forms()
_LEAK = re.compile(b"|".join(re.escape(head) for head in sorted(_FORMS, key=len, reverse=True)))


def _assert_clean(data: bytes, where: str) -> None:
    found = _LEAK.search(data)
    assert found is None, f"{_FORMS[found.group()]} in {where}"


def assert_no_secrets(
    *texts: str, root: Path | None = None, databases: Iterable[Path] = ()
) -> None:
    """No representation of a secret value (see `_leak_forms`) in the given texts, in any
    file under root (symlinks aside: they point out of it), or in the SQLite databases
    (with their -wal and -journal files)."""
    for index, text in enumerate(texts):
        _assert_clean(text.encode("utf-8", "surrogateescape"), f"text #{index}")
    files: list[Path] = []
    if root is not None:
        files += [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    for db in databases:
        files += [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-journal")) if p.is_file()]
    for path in files:
        _assert_clean(path.read_bytes(), str(path))


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
