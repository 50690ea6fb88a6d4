"""A synthetic persona repository for the benchmarks (not a test fixture).

`generate(root, files=300, variants=3)` writes a repository with:

- personactl.yaml with project vars and three environments (local, prod with
  overrides, and optionally a `bench` tavus environment pointing at a URL);
- templates/: 10 role prompts, each including shared partials and looping over vars;
- personas/_bases/: one root base (custom LLM, secrets) and 10 team bases that
  extend it (a two-level `extends` chain) and carry a tool list and STT settings;
- personas/team-NN/persona-NNN.yaml: `files` persona files spread over the teams,
  each with `variants` context variants (one of them adds a tool with `!append`);
- conversations/: a few conversation templates with a shared base.

Everything is deterministic: the same arguments give byte-identical files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TEAMS = 10
ROLES = 10
STORIES = [
    "Little Red Riding Hood",
    "The Ugly Duckling",
    "The Three Little Pigs",
    "The Hound of the Baskervilles",
    "Murder on the Orient Express",
    "The Tell-Tale Heart",
    "The Monkey's Paw",
    "The Fall of the House of Usher",
    "Hansel and Gretel",
    "The Snow Queen",
]
AUDIENCES = ["children", "fans of crime novels", "people who like to be scared", "everyone"]


def _project(env_url: str | None, env_key: str) -> str:
    bench = ""
    if env_url:
        bench = f"""  bench:
    backend: tavus
    api_url: {env_url}
    api_key_env: {env_key}
    state: .personactl/state/bench.json
    vars: {{tier: bench}}
"""
    return f"""version: 1
default_environment: local
vars:
  company: Acme
  support_email: help@acme.example
environments:
  local:
    backend: local
  prod:
    backend: tavus
    api_url: https://tavusapi.com
    api_key_env: TAVUS_API_KEY
    state: state/prod.json
    vars: {{tier: prod}}
    overrides:
      layers: {{llm: {{base_url: https://llm.acme.example/v1}}}}
{bench}"""


def _templates(root: Path) -> None:
    t = root / "templates"
    (t / "partials").mkdir(parents=True, exist_ok=True)
    (t / "prompts").mkdir(parents=True, exist_ok=True)
    (t / "partials" / "brief-replies.md.j2").write_text(
        "Reply in brief utterances, and ask prompting questions to keep the user engaged.\n"
    )
    (t / "partials" / "safety.md.j2").write_text(
        "Never share personal data. If asked about {{ company }} policies, "
        "refer to {{ support_email }}.\n"
    )
    (t / "partials" / "stories.md.j2").write_text(
        "{% for story in stories %}- {{ story }}\n{% endfor %}"
    )
    for k in range(ROLES):
        (t / "prompts" / f"role-{k}.md.j2").write_text(
            f"You are role {k} at {{{{ company }}}}, a storyteller for {{{{ audience }}}}.\n"
            "You work in team {{ team }}.\n"
            "Stories you know:\n"
            "{% include 'partials/stories.md.j2' %}\n"
            "{% include 'partials/brief-replies.md.j2' %}\n"
            "{% include 'partials/safety.md.j2' %}"
        )


def _bases(root: Path) -> None:
    b = root / "personas" / "_bases"
    b.mkdir(parents=True, exist_ok=True)
    (b / "custom-llm.yaml").write_text(
        """# shared by every persona: a custom OpenAI-compatible LLM and the house voice
vars:
  llm_base_url: https://llm.example.com/v1
persona:
  pipeline_mode: full
  layers:
    llm:
      model: custom_model_here
      base_url: "{{ llm_base_url }}"
      api_key: "{{ secret('CUSTOM_LLM_API_KEY') }}"
    tts:
      api_key: "{{ secret('TTS_API_KEY') }}"
      tts_engine: elevenlabs
      external_voice_id: professional-voice-clone-id
      tts_emotion_control: false
"""
    )
    for t in range(TEAMS):
        (b / f"team-{t}.yaml").write_text(
            f"""extends: [_bases/custom-llm.yaml]
vars:
  team: team-{t}
persona:
  layers:
    stt:
      participant_pause_sensitivity: medium
      participant_interrupt_sensitivity: high
      stt_engine: tavus-advanced
    llm:
      tools:
        - type: function
          function:
            name: lookup_order_{t}
            description: Look up an order for team {t}
            parameters:
              type: object
              properties:
                order_id: {{type: string, description: The order number}}
                verbose: {{type: boolean}}
              required: [order_id]
"""
        )


def _persona_file(i: int, variants: int) -> str:
    team = i % TEAMS
    role = i % ROLES
    stories = [STORIES[(i + j) % len(STORIES)] for j in range(3)]
    lines = [
        f"extends: [_bases/team-{team}.yaml]",
        "vars:",
        f"  audience: {AUDIENCES[i % len(AUDIENCES)]}",
        "  stories: [" + ", ".join(stories) + "]",
        "persona:",
        f"  persona_name: Persona {i:04d}",
        f"  system_prompt: \"{{% include 'prompts/role-{role}.md.j2' %}}\"",
        "  context: \"Favourite stories: {{ stories | join(', ') }}. Team {{ team }}.\"",
        "  layers:",
        "    llm:",
        "      speculative_inference: true",
        "    tts:",
        "      voice_settings: {speed: normal, emotion: [positivity:high]}",
        "    perception:",
        "      perception_model: raven-0",
    ]
    if variants:
        lines.append("variants:")
        for v in range(variants):
            vstories = [STORIES[(i + v + j + 5) % len(STORIES)] for j in range(2)]
            lines += [
                f"  v{v}:",
                "    vars:",
                f"      audience: {AUDIENCES[(i + v) % len(AUDIENCES)]}",
                "      stories: [" + ", ".join(vstories) + "]",
                "    persona:",
                f"      persona_name: Persona {i:04d} variant {v}",
            ]
            if v == 1:
                lines += [
                    "      layers:",
                    "        llm:",
                    "          tools: !append",
                    "            - type: function",
                    "              function:",
                    f"                name: escalate_{i}",
                    "                description: Hand the call to a human",
                    "                parameters:",
                    "                  type: object",
                    "                  properties:",
                    "                    reason: {type: string}",
                    "                  required: [reason]",
                ]
    return "\n".join(lines) + "\n"


def _conversations(root: Path, files: int, variants: int) -> None:
    c = root / "conversations"
    (c / "_bases").mkdir(parents=True, exist_ok=True)
    (c / "_bases" / "defaults.yaml").write_text(
        """conversation:
  callback_url: https://example.com/webhook
  properties:
    max_call_duration: 1800
    enable_closed_captions: true
"""
    )
    for n in range(min(3, files)):
        address = f"team-{n % TEAMS}/persona-{n:04d}" + ("/v0" if variants else "")
        (c / f"conv-{n}.yaml").write_text(
            f"""extends: [_bases/defaults.yaml]
persona: {address}
inputs:
  user_name: {{type: string, required: true}}
  age: {{type: integer, default: 8}}
conversation:
  conversation_name: "Chat {n} with {{{{ user_name }}}}"
  replica_id: r123456789
  conversational_context: You are talking to {{{{ user_name }}}}, who is {{{{ age }}}}.
"""
        )


def generate(
    root: Path,
    files: int = 300,
    variants: int = 3,
    *,
    env_url: str | None = None,
    env_key: str = "BENCH_KEY",
) -> int:
    """Write the repository at `root` (replacing it); return the number of personas."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "personactl.yaml").write_text(_project(env_url, env_key))
    _templates(root)
    _bases(root)
    for i in range(files):
        folder = root / "personas" / f"team-{i % TEAMS}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"persona-{i:04d}.yaml").write_text(_persona_file(i, variants))
    _conversations(root, files, variants)
    return files * max(variants, 1)
