"""Edit conflicts (DESIGN §5): a persona with an unsaved PAL Maker draft fails its update,
naming it and the draft; `apply --discard-drafts` sends force=true and reports each one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import assert_no_secrets
from tests.serverfix import LiveServer, server  # noqa: F401
from tests.test_faults import apply, make_repo, state_file


def _edited(repo: Path) -> None:
    path = repo / "personas" / "p01.yaml"
    path.write_text(path.read_text().replace("persona number 1.", "persona number one."))


def test_a_draft_fails_the_update_and_discard_drafts_forces_it(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path, server.url, 2)
    assert apply(repo).code == 0
    pid = json.loads(state_file(repo).read_text())["resources"]["p01"]["persona_id"]
    server.set_faults(drafts=[pid])
    _edited(repo)

    refused = apply(repo)
    assert refused.code == 1, refused.both
    assert (
        f"p01: update failed: PATCH /v2/personas/{pid}: {pid} has unsaved changes in PAL Maker"
        in refused.err
    )
    assert "apply with --discard-drafts" in refused.err
    assert "number one." not in json.dumps(server.store.get_persona(pid))

    forced = apply(repo, "--discard-drafts")
    assert forced.code == 0, forced.both
    assert "p01: discarded its unsaved PAL Maker draft" in forced.err
    assert "persona number one." in server.store.get_persona(pid)["system_prompt"]
    assert server.stats()["requests"].get("PATCH /v2/personas/{persona_id}", 0) >= 2
    assert_no_secrets(refused.out, refused.err, forced.out, forced.err, root=repo)


def test_without_a_draft_discard_drafts_reports_nothing(
    tmp_path: Path,
    server: LiveServer,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path, server.url, 1)
    assert apply(repo).code == 0
    _edited(repo)
    r = apply(repo, "--discard-drafts")
    assert r.code == 0, r.both
    assert "draft" not in r.err
