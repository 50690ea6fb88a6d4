"""A pytest plugin for persona repositories: every compiled persona as a syrupy snapshot.

In a persona repository (with `pip install personactl syrupy pytest`), a test file of
two lines pins every compiled persona, secrets masked:

    def test_personas(personactl_snapshot):
        personactl_snapshot.assert_all()

`pytest --snapshot-update` writes the snapshots (one per address, in
`__snapshots__/`); afterwards a prompt edit fails the test with the diff of each persona
that changed, and a persona that is gone leaves an unused snapshot, which syrupy
reports.  The project is the nearest personactl.yaml at or above pytest's rootdir,
unless `--personactl-project DIR` (or the `personactl_project` ini option, relative
to the rootdir) says otherwise.  Registered as a `pytest11` entry
point, so installing personactl is enough; it imports nothing heavy until used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from personactl.project import Project


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("personactl")
    group.addoption(
        "--personactl-project",
        metavar="DIR",
        help="The persona repository to snapshot (default: at or above the rootdir).",
    )
    parser.addini("personactl_project", "The persona repository, relative to the rootdir.")


class PersonaSnapshots:
    """The `personactl_snapshot` fixture's value."""

    def __init__(self, project: Project, snapshot: Any) -> None:
        self.project = project
        self.snapshot = snapshot

    def compiled(self, env: str | None = None) -> dict[str, dict[str, Any]]:
        """Every compiled persona of `env` (default: default_environment), masked."""
        from personactl.compile.compilation import compile_project

        result = compile_project(self.project, env)
        if result.errors:
            pytest.fail("\n".join(p.format() for p in result.errors), pytrace=False)
        return result.masked([])

    def assert_all(self, env: str | None = None) -> None:
        """Compare each persona with its snapshot (named by address; `address (env)` for
        another environment than the default), and fail once with every difference."""
        failed: list[str] = []
        for address, body in self.compiled(env).items():
            name = address if env is None else f"{address} ({env})"
            if self.snapshot(name=name) != body:
                failed += ["", f"{name}:", *self.snapshot.get_assert_diff()]
        if failed:
            pytest.fail(
                f"{sum(1 for line in failed if line == '')} compiled persona(s) differ "
                "from their snapshots (review, then `pytest --snapshot-update`):\n"
                + "\n".join(failed),
                pytrace=False,
            )


def _enclosing(start: Path) -> Path:
    """The nearest directory at or above `start` with a personactl.yaml (else `start`)."""
    from personactl.project import PROJECT_FILE

    return next((d for d in (start, *start.parents) if (d / PROJECT_FILE).is_file()), start)


@pytest.fixture
def personactl_snapshot(request: pytest.FixtureRequest) -> PersonaSnapshots:
    """Snapshots of the repository's compiled personas: `personactl_snapshot.assert_all()`."""
    from personactl.errors import UserError
    from personactl.project import load_project

    try:
        snapshot = request.getfixturevalue("snapshot")
    except pytest.FixtureLookupError:
        pytest.fail("personactl_snapshot needs syrupy: pip install syrupy", pytrace=False)
    config = request.config
    where = config.getoption("--personactl-project") or config.getini("personactl_project")
    try:
        project = load_project(config.rootpath / where if where else _enclosing(config.rootpath))
    except UserError as exc:
        pytest.fail(str(exc), pytrace=False)
    return PersonaSnapshots(project, snapshot)
