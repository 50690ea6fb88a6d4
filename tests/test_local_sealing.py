"""The embedded backend's database sits inside the repository: no secret() value lands in
it, whatever field it was used in (a prompt, a header), only digests."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SECRETS, assert_no_secrets, build_tree, run_cli

FILES = {
    "personactl.yaml": "version: 1\n",
    "personas/p.yaml": """
        persona:
          persona_name: P
          pipeline_mode: full
          system_prompt: "Use the code {{ secret('CUSTOM_LLM_API_KEY') }} when asked."
          layers:
            llm:
              model: m
              base_url: https://llm.example.com/v1
              api_key: "{{ secret('TTS_API_KEY') }}"
              headers:
                Authorization: "Bearer {{ secret('CUSTOM_LLM_API_KEY') }}"
        """,
}


def test_secret_bearing_fields_are_sealed_in_local_db(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, FILES)
    r = run_cli("apply", "--auto-approve", cwd=repo, env=SECRETS)
    assert r.code == 0, r.both
    db = repo / ".personactl" / "local.db"
    assert db.exists()
    assert_no_secrets(r.out, r.err, root=repo)
    again = run_cli("plan", "--detailed-exitcode", cwd=repo, env=SECRETS)
    assert again.code == 0, again.both  # sealed values never show as a change
    changed = run_cli(
        "plan", "--detailed-exitcode", cwd=repo, env={**SECRETS, "CUSTOM_LLM_API_KEY": "sk-other-1"}
    )
    assert changed.code == 2, changed.both
    assert "(sensitive)" in changed.out
