"""`personactl explain ADDRESS [POINTER]`: where each field's value came from, the layers
it overrode (DESIGN §2 order), and for a templated string its templates and variables."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO, SECRETS, assert_no_secrets, build_tree, run_cli
from tests.test_completion import _complete

PROJECT = """
    version: 1
    default_environment: local
    vars:
      company: Acme
      tier: dev
    environments:
      local:
        backend: local
      prod:
        backend: local
        api: pals
        vars: {tier: prod}
        overrides:
          layers: {llm: {model: prod-model}}
"""
BASE = """
    vars:
      tone: warm
    persona:
      pipeline_mode: full
      persona_name: Base name
      document_tags: [faq]
      layers:
        llm:
          model: base-model
          base_url: https://llm.example.com/v1
          api_key: "{{ secret('CUSTOM_LLM_API_KEY') }}"
"""
HELPER = """
    extends: [_bases/llm.yaml]
    vars:
      audience: adults
    persona:
      system_prompt: "{% include 'prompts/main.md.j2' %}"
      layers:
        llm:
          model: file-model
    variants:
      kids:
        vars: {audience: children}
        persona:
          persona_name: Kids helper
          document_tags: !append [kids]
          layers: {llm: {model: variant-model}}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": PROJECT,
            "personas/_bases/llm.yaml": BASE,
            "personas/helper.yaml": HELPER,
            "templates/prompts/main.md.j2": """
                You help {{ audience }} at {{ company }} ({{ tier }}), in a {{ tone }} voice.
                {% include 'partials/short.md.j2' %}
            """,
            "templates/partials/short.md.j2": "Keep replies short for {{ personactl.address }}.\n",
        },
    )


def _explain(repo: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli("-C", str(repo), "explain", *args, env=SECRETS)
    assert_no_secrets(result.out, result.err)
    return result.code, result.out, result.err


def test_a_field_set_by_a_base_the_file_a_variant_and_the_environment(repo: Path) -> None:
    code, out, err = _explain(repo, "--env", "prod", "helper/kids", "/layers/llm/model")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        '/layers/llm/model = "prod-model"',
        "  set by   personactl.yaml:14:29 (overrides of environment prod)",
        '  overrode personas/_bases/llm.yaml:9:14 (base) "base-model"',
        '  overrode personas/helper.yaml:8:14 (file) "file-model"',
        '  overrode personas/helper.yaml:15:29 (variant kids) "variant-model"',
    ]


def test_without_the_overrides_the_variant_wins(repo: Path) -> None:
    code, out, _ = _explain(repo, "helper/kids", "layers.llm.model")  # the dotted form
    assert code == 0
    assert out.splitlines() == [
        '/layers/llm/model = "variant-model"',
        "  set by   personas/helper.yaml:15:29 (variant kids)",
        '  overrode personas/_bases/llm.yaml:9:14 (base) "base-model"',
        '  overrode personas/helper.yaml:8:14 (file) "file-model"',
    ]


def test_a_templated_prompt_names_its_templates_and_the_origin_of_each_variable(
    repo: Path,
) -> None:
    code, out, err = _explain(repo, "--env", "prod", "helper/kids", "/system_prompt")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        '/system_prompt = "You help children at Acme (prod), in a warm voice.\\nKeep repl…"'
        " (86 chars)",
        "  set by   personas/helper.yaml:5:18 (file)",
        "  template templates/prompts/main.md.j2",
        "  template templates/partials/short.md.j2",
        '  var      audience = "children" from personas/helper.yaml:11:22 (variant kids)',
        '    overrode personas/helper.yaml:3:13 (file) "adults"',
        '  var      company = "Acme" from personactl.yaml:4:12 (project vars)',
        '  var      personactl = {"address": "helper/kids", "environment": "prod"} from (builtin)',
        '  var      tier = "prod" from personactl.yaml:12:18 (vars of environment prod)',
        '    overrode personactl.yaml:5:9 (project vars) "dev"',
        '  var      tone = "warm" from personas/_bases/llm.yaml:2:9 (base)',
    ]


def test_a_var_on_the_command_line_beats_every_layer(repo: Path) -> None:
    code, out, _ = _explain(repo, "helper/kids", "/system_prompt", "--var", "tier=cli")
    assert code == 0
    lines = out.splitlines()
    at = lines.index('  var      tier = "cli" from (--var)')
    assert lines[at + 1] == '    overrode personactl.yaml:5:9 (project vars) "dev"'


def test_pointers_are_in_the_environments_vocabulary(repo: Path) -> None:
    code, out, _ = _explain(repo, "--env", "prod", "helper/kids", "/pal_name")
    assert code == 0
    assert out.splitlines() == [
        '/pal_name = "Kids helper"',
        "  set by   personas/helper.yaml:13:21 (variant kids)",
        '  overrode personas/_bases/llm.yaml:5:17 (base) "Base name"',
    ]
    code, out, _ = _explain(repo, "helper/kids", "/persona_name")
    assert code == 0
    assert out.splitlines()[0] == '/persona_name = "Kids helper"'


def test_an_appended_list_item_names_the_layer_that_added_it(repo: Path) -> None:
    code, out, _ = _explain(repo, "helper/kids", "/document_tags")
    assert code == 0
    assert out.splitlines() == [
        '/document_tags/0 = "faq"',
        "  set by   personas/_bases/llm.yaml:6:19 (base)",
        '/document_tags/1 = "kids"',
        "  set by   personas/helper.yaml:14:31 (variant kids)",
    ]


def test_a_subtree_lists_every_field_under_it(repo: Path) -> None:
    code, out, _ = _explain(repo, "helper/kids", "/layers/llm")
    assert code == 0
    headers = [line for line in out.splitlines() if not line.startswith(" ")]
    assert headers == [
        "/layers/llm/api_key = (sensitive)",
        '/layers/llm/base_url = "https://llm.example.com/v1"',
        '/layers/llm/model = "variant-model"',
    ]


def test_json_shape(repo: Path) -> None:
    code, out, _ = _explain(repo, "--env", "prod", "helper/kids", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["/layers/llm/model"] == {
        "value": "prod-model",
        "set_by": {"role": "overrides", "file": "personactl.yaml", "line": 14, "col": 29},
        "overrode": [
            {
                "role": "base",
                "file": "personas/_bases/llm.yaml",
                "line": 9,
                "col": 14,
                "value": "base-model",
            },
            {
                "role": "file",
                "file": "personas/helper.yaml",
                "line": 8,
                "col": 14,
                "value": "file-model",
            },
            {
                "role": "variant",
                "file": "personas/helper.yaml",
                "line": 15,
                "col": 29,
                "value": "variant-model",
            },
        ],
    }
    template = data["/system_prompt"]["template"]
    assert template["templates"] == [
        "templates/prompts/main.md.j2",
        "templates/partials/short.md.j2",
    ]
    assert template["vars"]["tier"] == {
        "value": "prod",
        "set_by": {"role": "environment", "file": "personactl.yaml", "line": 12, "col": 18},
        "overrode": [
            {"role": "project", "file": "personactl.yaml", "line": 5, "col": 9, "value": "dev"}
        ],
    }
    assert template["vars"]["personactl"]["set_by"] == {
        "role": "builtin",
        "file": None,
        "line": None,
        "col": None,
    }
    assert data["/layers/llm/api_key"]["value"] == "(sensitive)"
    assert "template" not in data["/pal_name"]


def test_secrets_are_sensitive_and_never_shown(example_repo: Path) -> None:
    for fmt in ("text", "json"):
        result = run_cli(
            "-C", str(example_repo), "explain", "storyteller/children", "--format", fmt, env=SECRETS
        )
        assert result.code == 0, result.err
        assert_no_secrets(result.out, result.err)
    text = run_cli("-C", str(example_repo), "explain", "storyteller/children", env=SECRETS).out
    lines = text.splitlines()
    at = lines.index("/layers/llm/api_key = (sensitive)")
    assert lines[at + 1] == "  set by   personas/_bases/custom-llm.yaml:11:16 (base)"


def test_an_unknown_pointer_is_one_line_with_a_did_you_mean(repo: Path) -> None:
    code, out, err = _explain(repo, "helper/kids", "/layers/llm/modle")
    assert (code, out) == (1, "")
    assert err == (
        "error: no field /layers/llm/modle in helper/kids "
        "(hint: did you mean '/layers/llm/model'?)\n"
    )


def test_an_unknown_address_has_a_did_you_mean(repo: Path) -> None:
    code, out, err = _explain(repo, "helper/kid")
    assert (code, out) == (1, "")
    assert err == (
        "error: no persona 'helper/kid' in this repository (hint: did you mean 'helper/kids'?)\n"
    )


def test_a_tool_address(example_repo: Path) -> None:
    result = run_cli(
        "-C", str(example_repo), "explain", "tools:lookup_patient", "/delivery/api", env=SECRETS
    )
    assert result.code == 0, result.err
    assert_no_secrets(result.out, result.err)
    lines = result.out.splitlines()
    assert lines[:2] == [
        "/delivery/api/auth/token = (sensitive)",
        "  set by   tools/lookup_patient.yaml:22:16 (file)",
    ]
    at = lines.index('/delivery/api/url = "https://records.example.com/v1/patients"')
    assert lines[at + 1 : at + 3] == [
        "  set by   tools/lookup_patient.yaml:16:12 (file)",
        '  var      records_api = "https://records.example.com/v1" from '
        "tools/lookup_patient.yaml:5:16 (file)",
    ]


def test_a_reference_is_known_after_apply(example_repo: Path) -> None:
    result = run_cli("-C", str(example_repo), "explain", "intake-assistant", "/tool_ids")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "/tool_ids/0 = (known after apply)",
        "  set by   personas/intake-assistant.yaml:14:14 (file)",
    ]


def test_a_repository_with_errors_still_explains_what_compiled(repo: Path) -> None:
    (repo / "personas" / "broken.yaml").write_text("persona: [unclosed\n", encoding="utf-8")
    code, out, err = _explain(repo, "helper/kids", "/pipeline_mode")
    assert code == 0
    assert out.splitlines() == [
        '/pipeline_mode = "full"',
        "  set by   personas/_bases/llm.yaml:4:18 (base)",
    ]
    assert err.startswith("personas/broken.yaml:2:1: invalid YAML: ")
    code, out, err = _explain(repo, "broken")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith("personas/broken.yaml:2:1: invalid YAML: ")
    assert lines[-1] == (
        "error: no persona 'broken' in this repository "
        "(hint: run `personactl list` to see every address)"
    )


def test_the_readme_example_is_real_output(example_repo: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### `personactl explain ADDRESS [POINTER]`", 1)[1]
    console = section.split("```console\n", 1)[1].split("```", 1)[0]
    for run in console.split("$ ")[1:]:
        command, _, expected = run.partition("\n")
        args = shlex.split(command)[1:]
        result = run_cli("-C", str(example_repo), *args)
        assert (result.code, result.err) == (0, "")
        assert result.out == expected, command


def test_an_explicit_null_forgets_what_it_removed(repo: Path) -> None:
    helper = (repo / "personas" / "helper.yaml").read_text(encoding="utf-8")
    helper = helper.replace("      model: file-model\n", "      model: null\n")
    (repo / "personas" / "helper.yaml").write_text(helper, encoding="utf-8")
    code, out, _ = _explain(repo, "helper/kids", "/layers/llm/model")
    assert code == 0
    assert out.splitlines() == [
        '/layers/llm/model = "variant-model"',
        "  set by   personas/helper.yaml:15:29 (variant kids)",
    ]


def test_bash_completes_the_command_and_its_address(example_repo: Path) -> None:
    assert _complete("personactl expl", example_repo) == ["explain"]
    assert _complete("personactl explain storyteller/c", example_repo) == [
        "storyteller/children",
        "storyteller/crime",
    ]


def test_a_variant_made_from_a_data_row_names_the_row_and_the_matrix(tmp_path: Path) -> None:
    repo = build_tree(
        tmp_path / "repo",
        {
            "personactl.yaml": PROJECT,
            "data/tenants.csv": "tenant_id,company\nacme,Acme Inc\nglobex,Globex\n",
            "personas/support.yaml": """
                variants_from: data/tenants.csv
                variants_key: tenant_id
                matrix: {lang: [en, es]}
                persona:
                  pipeline_mode: full
                  persona_name: "{{ company }} ({{ lang }})"
                  system_prompt: Help.
                variants:
                  acme/es:
                    vars: {company: Acme España}
            """,
        },
    )
    code, out, err = _explain(repo, "support/globex/en", "/persona_name")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        '/persona_name = "Globex (en)"',
        "  set by   personas/support.yaml:6:17 (file)",
        '  var      company = "Globex" from data/tenants.csv:3:8 (row of data/tenants.csv)',
        '    overrode personactl.yaml:4:12 (project vars) "Acme"',
        '  var      lang = "en" from personas/support.yaml:3:17 (matrix)',
    ]
    code, out, err = _explain(repo, "support/acme/es", "/persona_name")
    assert (code, err) == (0, "")
    assert out.splitlines()[2:5] == [
        '  var      company = "Acme España" from personas/support.yaml:10:21 (variant acme/es)',
        '    overrode personactl.yaml:4:12 (project vars) "Acme"',
        '    overrode data/tenants.csv:2:6 (row of data/tenants.csv) "Acme Inc"',
    ]
