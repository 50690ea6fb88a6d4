"""Tests of personactl.schema: model checks, semantic checks, real-world payloads."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from personactl.schema import (
    SENSITIVE_KEYS,
    SchemaIssue,
    check_conversation,
    check_persona,
    conversation_file_json_schema,
    conversation_json_schema,
    persona_file_json_schema,
    persona_json_schema,
    project_json_schema,
)


def secret(name: str) -> str:
    return f"\x00personactl-secret:{name}\x00"


def errors(issues: list[SchemaIssue]) -> list[SchemaIssue]:
    return [i for i in issues if not i.warning]


def warnings(issues: list[SchemaIssue]) -> list[SchemaIssue]:
    return [i for i in issues if i.warning]


def only_error(issues: list[SchemaIssue]) -> SchemaIssue:
    errs = errors(issues)
    assert len(errs) == 1, errs
    return errs[0]


WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {
                    "type": "string",
                    "description": "The city and state, e.g. San Francisco, CA",
                },
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}

# reference/tavus-custom-llm-personas.txt, with the placeholder endpoint made a URL,
# `[<your-tools-here>]` made a real tool and api_key values made secret placeholders.
STORYTELLER: dict[str, Any] = {
    "system_prompt": "You are a storyteller. You like telling stories to people of all ages.",
    "context": "Here are some of your favorite stories: Little Red Riding Hood, The Ugly Duckling",
    "persona_name": "Mert the Storyteller",
    "layers": {
        "llm": {
            "model": "custom_model_here",
            "api_key": secret("STORY_LLM_KEY"),
            "base_url": "https://llm.example.com/v1",
            "tools": [WEATHER_TOOL],
            "speculative_inference": True,
        },
        "tts": {
            "api_key": secret("PLAYHT_KEY"),
            "tts_engine": "playht",
            "playht_user_id": "your-playht-user-id",
            "external_voice_id": "professional-voice-clone-id",
            "voice_settings": {},
            "tts_emotion_control": False,
        },
        "vqa": {"enabled": False},
        "stt": {
            "participant_pause_sensitivity": "medium",
            "participant_interrupt_sensitivity": "medium",
            "stt_engine": "tavus-advanced",
        },
    },
}

WEATHER_ASSISTANT: dict[str, Any] = {
    "system_prompt": "You are a helpful assistant.",
    "context": "Help users get the weather for a given location.",
    "persona_name": "Weather Assistant",
    "layers": {
        "llm": {
            "model": "custom_model_here",
            "api_key": secret("LLM_KEY"),
            "base_url": "https://llm.example.com/v1",
            "tools": [WEATHER_TOOL],
        },
        "tts": {
            "api_key": secret("ELEVEN_KEY"),
            "tts_engine": "elevenlabs",
            "external_voice_id": "professional-voice-clone-id",
            "voice_settings": {},
            "tts_emotion_control": False,
        },
        "vqa": {"enabled": False},
    },
}


def test_reference_bodies_pass() -> None:
    assert check_persona(STORYTELLER) == []
    assert check_persona(WEATHER_ASSISTANT) == []


def test_reference_conversation_passes() -> None:
    body = {
        "replica_id": "r123456789",
        "conversation_name": "My Conversation",
        "callback_url": "https://webhook.site/",
        "persona_id": "p234324a",
        "conversational_context": "You are talking to Maya, who is from Dallas, Texas.",
    }
    assert check_conversation(body) == []
    del body["persona_id"]
    assert check_conversation(body) == []


# ----------------------------------------------------------------------------- unknown keys


def test_unknown_key_did_you_mean() -> None:
    p = copy.deepcopy(STORYTELLER)
    p["layers"]["llm"]["modle"] = p["layers"]["llm"].pop("model")
    issues = check_persona(p)
    unknown = [i for i in issues if i.key]
    assert len(unknown) == 1
    assert unknown[0].path == ("layers", "llm", "modle")
    assert unknown[0].message == "unknown key 'modle'"
    assert unknown[0].hint == "did you mean 'model'?"
    assert not unknown[0].warning
    # and base_url without model
    assert any(i.path == ("layers", "llm") and "needs a model" in i.message for i in issues)


def test_unknown_top_level_and_layer_keys() -> None:
    issue = only_error(check_persona({"system_prompt": "x", "persona_nmae": "a"}))
    assert issue.hint == "did you mean 'persona_name'?"
    issue = only_error(check_persona({"system_prompt": "x", "layers": {"sst": {}}}))
    assert issue.path == ("layers", "sst")
    assert issue.hint == "did you mean 'stt'?"
    issue = only_error(check_persona({"system_prompt": "x", "layers": {"tts": {"hotwords": "a"}}}))
    assert "layers.stt" in issue.hint
    issue = only_error(check_persona({"system_prompt": "x", "llm": {"model": "tavus-gpt-oss"}}))
    assert "under layers" in issue.hint


def test_persona_id_is_not_part_of_persona() -> None:
    assert check_persona({"system_prompt": "x", "guardrails_id": ["g1", "g2"]}) == []
    issue = only_error(check_persona({"system_prompt": "x", "persona_id": "p1"}))
    assert issue.key and issue.path == ("persona_id",)


def test_allow_unknown_makes_warnings() -> None:
    p = {"system_prompt": "x", "new_field": 1, "layers": {"llm": {"new_knob": True}}}
    issues = check_persona(p, allow_unknown=True)
    assert errors(issues) == []
    assert {i.path for i in warnings(issues)} == {("new_field",), ("layers", "llm", "new_knob")}
    assert all(i.key for i in issues)
    assert len(errors(check_persona(p))) == 2


def test_conversation_unknown_key_hint() -> None:
    issue = only_error(check_conversation({"conversation_nmae": "x"}))
    assert issue.hint == "did you mean 'conversation_name'?"
    issue = only_error(check_conversation({"participant_absent_timeout": 10}))
    assert "properties" in issue.hint
    issue = only_error(check_conversation({"properties": {"max_call_duraton": 10}}))
    assert issue.path == ("properties", "max_call_duraton")
    assert issue.hint == "did you mean 'max_call_duration'?"


# ----------------------------------------------------------------------------- enums and types


def test_enum_message() -> None:
    p = {"system_prompt": "x", "layers": {"conversational_flow": {"turn_taking_patience": "hgih"}}}
    issue = only_error(check_persona(p))
    assert issue.path == ("layers", "conversational_flow", "turn_taking_patience")
    assert issue.message == (
        "invalid value 'hgih' for turn_taking_patience; expected one of: low, medium, high"
    )
    assert issue.hint == "did you mean 'high'?"
    assert not issue.key


@pytest.mark.parametrize(
    ("layer", "key", "bad"),
    [
        ("conversational_flow", "replica_interruptibility", "extreme"),
        ("conversational_flow", "turn_commitment", "HIGH"),
        ("conversational_flow", "active_listening", "on"),
        ("stt", "participant_pause_sensitivity", "ultra"),
        ("stt", "participant_interrupt_sensitivity", 3),
        ("tts", "voice_settings", {"speed": "quick"}),
    ],
)
def test_enum_fields_reject_other_values(layer: str, key: str, bad: Any) -> None:
    p = {"system_prompt": "x", "layers": {layer: {key: bad}}}
    issue = only_error(check_persona(p))
    assert "invalid value" in issue.message and "expected" in issue.message


@pytest.mark.parametrize("value", ["superlow", "verylow", "low", "medium", "high", "veryhigh"])
def test_sensitivities(value: str) -> None:
    p = {
        "system_prompt": "x",
        "layers": {
            "stt": {
                "participant_pause_sensitivity": value,
                "participant_interrupt_sensitivity": value,
            }
        },
    }
    assert check_persona(p) == []


def test_pipeline_mode_enum() -> None:
    issue = only_error(check_persona({"pipeline_mode": "fulll", "system_prompt": "x"}))
    assert issue.path == ("pipeline_mode",)
    assert "expected one of: full, echo, custom" in issue.message


def test_type_errors() -> None:
    p = {
        "system_prompt": "x",
        "document_ids": ["d1", 2],
        "layers": {"llm": {"speculative_inference": "yes"}, "stt": {"hotwords": 5}},
    }
    issues = errors(check_persona(p))
    by_path = {i.path: i.message for i in issues}
    assert (
        by_path[("document_ids", 1)]
        == "invalid type for document_ids[1]: expected string, got integer"
    )
    assert by_path[("layers", "llm", "speculative_inference")] == (
        "invalid type for speculative_inference: expected boolean, got string"
    )
    assert "string or list of strings" in by_path[("layers", "stt", "hotwords")]


def test_layer_must_be_object() -> None:
    issue = only_error(check_persona({"system_prompt": "x", "layers": {"llm": "tavus-gpt-oss"}}))
    assert issue.path == ("layers", "llm")
    assert "expected object, got string" in issue.message


def test_missing_required_tool_keys() -> None:
    p = {"system_prompt": "x", "layers": {"llm": {"tools": [{"type": "function", "function": {}}]}}}
    issue = only_error(check_persona(p))
    assert issue.path == ("layers", "llm", "tools", 0, "function")
    assert issue.message == "missing required key 'name'"


def test_conversation_types() -> None:
    issues = errors(
        check_conversation(
            {"max_participants": 1, "document_retrieval_strategy": "fast", "test_mode": "no"}
        )
    )
    assert {i.path for i in issues} == {
        ("max_participants",),
        ("document_retrieval_strategy",),
        ("test_mode",),
    }


def test_secret_placeholders_are_strings() -> None:
    p = copy.deepcopy(STORYTELLER)
    p["layers"]["llm"]["headers"] = {"Authorization": secret("AUTH")}
    assert check_persona(p) == []
    assert "api_key" in SENSITIVE_KEYS


# ----------------------------------------------------------------------------- semantic checks


def test_full_pipeline_needs_system_prompt() -> None:
    issue = only_error(check_persona({"persona_name": "a"}))
    assert issue.path == ("system_prompt",)
    issue = only_error(check_persona({"pipeline_mode": "full"}))
    assert issue.path in {("system_prompt",), ("pipeline_mode",)}
    issue = only_error(check_persona({"pipeline_mode": "full", "system_prompt": "  "}))
    assert issue.path == ("system_prompt",)
    assert check_persona({"pipeline_mode": "echo"}) == []


def test_base_url_must_be_http_url() -> None:
    p = copy.deepcopy(WEATHER_ASSISTANT)
    p["layers"]["llm"]["base_url"] = "open-ai-compatible-llm-http-endpoint"
    issue = only_error(check_persona(p))
    assert issue.path == ("layers", "llm", "base_url")
    assert "http(s) URL" in issue.message
    p["layers"]["llm"]["base_url"] = "ftp://llm.example.com"
    assert only_error(check_persona(p)).path == ("layers", "llm", "base_url")
    p["layers"]["llm"]["base_url"] = secret("LLM_URL")
    assert check_persona(p) == []


def test_base_url_needs_model() -> None:
    p: dict[str, Any] = {
        "system_prompt": "x",
        "layers": {"llm": {"base_url": "https://llm.example.com/v1"}},
    }
    issue = only_error(check_persona(p))
    assert issue.path == ("layers", "llm")
    p["layers"]["llm"]["model"] = ""
    assert only_error(check_persona(p)).path == ("layers", "llm", "model")


def _tool(name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": name, "description": "d"}
    if parameters is not None:
        fn["parameters"] = parameters
    return {"type": "function", "function": fn}


def test_duplicate_tool_names() -> None:
    p = {"system_prompt": "x", "layers": {"llm": {"tools": [_tool("a"), _tool("b"), _tool("a")]}}}
    issue = only_error(check_persona(p))
    assert issue.path == ("layers", "llm", "tools", 2, "function", "name")
    assert issue.message == "duplicate tool name 'a'"
    assert "tools[0]" in issue.hint


@pytest.mark.parametrize("name", ["has space", "x" * 65, "dots.no", ""])
def test_tool_name_pattern(name: str) -> None:
    p = {"system_prompt": "x", "layers": {"llm": {"tools": [_tool(name)]}}}
    issue = only_error(check_persona(p))
    assert issue.path == ("layers", "llm", "tools", 0, "function", "name")
    assert "^[A-Za-z0-9_-]{1,64}$" in issue.message


def test_tool_parameters_invalid_schema() -> None:
    params = {"type": "object", "properties": {"city": {"type": "strng"}}}
    p = {"system_prompt": "x", "layers": {"llm": {"tools": [_tool("t", params)]}}}
    issue = only_error(check_persona(p))
    assert issue.path == (
        "layers",
        "llm",
        "tools",
        0,
        "function",
        "parameters",
        "properties",
        "city",
        "type",
    )
    assert issue.hint == "did you mean 'string'?"
    params = {"type": "object", "properties": {"a": {"type": "string"}}, "required": "a"}
    p = {"system_prompt": "x", "layers": {"llm": {"tools": [_tool("t", params)]}}}
    issue = only_error(check_persona(p))
    assert issue.path[-1] == "required"


def test_tool_required_names_exist() -> None:
    params = {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["location", "units"],
    }
    p = {"system_prompt": "x", "layers": {"llm": {"tools": [_tool("t", params)]}}}
    issue = only_error(check_persona(p))
    assert issue.path == ("layers", "llm", "tools", 0, "function", "parameters", "required", 1)
    assert issue.message == "required property 'units' is not defined in properties"
    assert issue.hint == "did you mean 'unit'?"


def test_nested_required_names_exist() -> None:
    params = {
        "type": "object",
        "properties": {
            "addr": {
                "type": "object",
                "properties": {"zip": {"type": "string"}},
                "required": ["city"],
            }
        },
    }
    p = {"system_prompt": "x", "layers": {"llm": {"tools": [_tool("t", params)]}}}
    issue = only_error(check_persona(p))
    assert issue.path[-4:] == ("properties", "addr", "required", 0)


@pytest.mark.parametrize("key", ["visual_tools", "audio_tools", "perception_tools"])
def test_perception_tool_checks(key: str) -> None:
    params = {"type": "object", "properties": {}, "required": ["x"]}
    p = {
        "system_prompt": "x",
        "layers": {
            "perception": {"perception_model": "raven-1", key: [_tool("a"), _tool("a", params)]}
        },
    }
    errs = errors(check_persona(p))
    paths = {i.path for i in errs}
    assert ("layers", "perception", key, 1, "function", "name") in paths
    assert ("layers", "perception", key, 1, "function", "parameters", "required", 0) in paths


def test_legacy_perception_tools_warning() -> None:
    p = {
        "system_prompt": "x",
        "layers": {
            "perception": {
                "perception_model": "raven-0",
                "perception_tool_prompt": "Use the tool when an ID is shown.",
                "perception_tools": [_tool("notify_if_id_shown")],
            }
        },
    }
    issues = check_persona(p)
    assert errors(issues) == []
    by_path = {i.path: i for i in warnings(issues)}
    tools_warning = by_path[("layers", "perception", "perception_tools")]
    assert "visual_tools" in tools_warning.message
    assert (
        "visual_tool_prompt" in by_path[("layers", "perception", "perception_tool_prompt")].message
    )


def test_open_names_warn() -> None:
    p = {
        "system_prompt": "x",
        "layers": {
            "llm": {"model": "tavus-gpt-4oo"},
            "tts": {"tts_engine": "carteisa"},
            "stt": {"stt_engine": "tavus-advancd"},
            "perception": {"perception_model": "raven-2"},
            "conversational_flow": {"turn_detection_model": "sparow-1"},
        },
    }
    issues = check_persona(p)
    assert errors(issues) == []
    by_path = {i.path: i for i in warnings(issues)}
    assert by_path[("layers", "llm", "model")].hint == "did you mean 'tavus-gpt-4o'?"
    assert by_path[("layers", "tts", "tts_engine")].hint == "did you mean 'cartesia'?"
    assert ("layers", "stt", "stt_engine") in by_path
    assert ("layers", "perception", "perception_model") in by_path
    assert ("layers", "conversational_flow", "turn_detection_model") in by_path


def test_custom_llm_model_name_is_free() -> None:
    p = copy.deepcopy(STORYTELLER)
    p["layers"]["llm"]["model"] = "my-finetune-v3"
    assert check_persona(p) == []


# ----------------------------------------------------------------------------- real-world variants


def test_real_world_variants() -> None:
    p: dict[str, Any] = {
        "pipeline_mode": "echo",
        "layers": {
            "tts": {
                "tts_emotion_control": "true",
                "voice_settings": {
                    "speed": 0.9,
                    "emotion": ["positivity:high"],
                    "stability": 0.5,
                    "x_engine_knob": 1,
                },
            },
            "stt": {"hotwords": "Roey is the name of the person you're speaking with."},
        },
    }
    assert check_persona(p) == []
    p["layers"]["tts"]["tts_emotion_control"] = "false"
    p["layers"]["tts"]["voice_settings"]["speed"] = "fastest"
    p["layers"]["stt"]["hotwords"] = ["Roey", "Tavus"]
    assert check_persona(p) == []
    p["layers"]["tts"]["tts_emotion_control"] = "maybe"
    assert only_error(check_persona(p)).path == ("layers", "tts", "tts_emotion_control")


# Bodies found in public code (api keys replaced by secret placeholders).

# A Tavus docs use case (customer service agent): raven-0 perception, tool calls.
CUSTOMER_SERVICE: dict[str, Any] = {
    "persona_name": "Customer Service Agent",
    "pipeline_mode": "full",
    "system_prompt": "You are a calm, helpful customer service agent.",
    "context": "User needs support with a product or service.",
    "default_replica_id": "r95fd27b5a37",
    "layers": {
        "tts": {"tts_engine": "cartesia", "tts_emotion_control": True},
        "llm": {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "resolve_customer_issue",
                        "parameters": {
                            "type": "object",
                            "required": ["product", "issue_description", "urgency"],
                            "properties": {
                                "product": {"type": "string", "description": "The product"},
                                "issue_description": {"type": "string", "description": "Problem"},
                                "urgency": {"type": "string", "enum": ["low", "medium", "high"]},
                            },
                        },
                        "description": "Attempt to resolve the user's issue.",
                    },
                }
            ],
            "model": "tavus-llama-4",
            "speculative_inference": True,
        },
        "perception": {
            "perception_model": "raven-0",
            "ambient_awareness_queries": ["Does the user appear frustrated or confused?"],
            "perception_tool_prompt": "Use the `user_emotional_state` tool when ...",
            "perception_tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "user_emotional_state",
                        "description": "Report the user's emotional state.",
                        "parameters": {
                            "type": "object",
                            "required": ["emotional_state", "indicator"],
                            "properties": {
                                "emotional_state": {"type": "string"},
                                "indicator": {"type": "string"},
                            },
                        },
                    },
                }
            ],
        },
        "stt": {
            "participant_pause_sensitivity": "medium",
            "participant_interrupt_sensitivity": "high",
            "smart_turn_detection": True,
        },
    },
}

# A Python script creating an ISS tracker persona with a custom (Groq) LLM.
ISS_TRACKER: dict[str, Any] = {
    "persona_name": "ISS Tracker Bot",
    "pipeline_mode": "full",
    "system_prompt": "You provide the current location of the ISS. Use `get_iss_location`.",
    "layers": {
        "llm": {
            "base_url": "https://e9f3-180-245-191-222.ngrok-free.app/",
            "api_key": secret("LLM_KEY"),
            "model": "llama-3.3-70b-versatile",
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_iss_location",
                        "description": "Returns the current location of the ISS.",
                        "parameters": {"type": "object", "properties": {}, "required": []},
                    },
                }
            ],
        },
        "tts": {"tts_engine": "cartesia", "tts_emotion_control": True},
        "stt": {
            "stt_engine": "tavus-advanced",
            "participant_pause_sensitivity": "high",
            "participant_interrupt_sensitivity": "high",
            "smart_turn_detection": True,
        },
    },
}

# LiveKit avatar integrations: echo pipeline over the LiveKit transport.
LIVEKIT_ECHO: dict[str, Any] = {
    "persona_name": "Customer Service Agent",
    "pipeline_mode": "echo",
    "layers": {"transport": {"transport_type": "livekit"}},
}

# A Node script: Tavus-hosted LLM and Sparrow-1 turn-taking.
PIXAL: dict[str, Any] = {
    "system_prompt": "You are Pixal, an AI health assistant.",
    "layers": {
        "llm": {"model": "tavus-gpt-oss", "speculative_inference": True},
        "conversational_flow": {
            "turn_detection_model": "sparrow-1",
            "turn_taking_patience": "medium",
            "replica_interruptibility": "medium",
        },
    },
    "default_replica_id": "rf4703150052",
}

# An echo persona voiced by ElevenLabs, brain outside Tavus.
ECHO_ELEVENLABS: dict[str, Any] = {
    "persona_name": "Sofia — AI Process Expert",
    "pipeline_mode": "echo",
    "default_replica_id": "r90bbd427f71",
    "layers": {
        "tts": {
            "tts_engine": "elevenlabs",
            "api_key": secret("ELEVENLABS_API_KEY"),
            "external_voice_id": "21m00Tcm4TlvDq8ikWAM",
        }
    },
}

# A sales persona: Sparrow-0 STT settings, hotwords as one string, numeric speed.
CAR_SALES: dict[str, Any] = {
    "persona_name": "Maria",
    "system_prompt": "You are Maria, a friendly sales assistant at Hill Nissan.",
    "layers": {
        "stt": {
            "stt_engine": "tavus-advanced",
            "participant_pause_sensitivity": "medium",
            "participant_interrupt_sensitivity": "medium",
            "smart_turn_detection": True,
            "hotwords": "Hill Nissan, Maria, VIP, buyback, appraisal, CarMax, trade-in",
        },
        "tts": {
            "tts_engine": "cartesia",
            "external_voice_id": "9626c31c-bec5-4cca-baa8-f8ba9e84c8bc",
            "tts_model_name": "sonic",
            "tts_emotion_control": True,
            "voice_settings": {"speed": 1.08, "emotion": ["positivity:high", "curiosity:medium"]},
        },
    },
}

# An interviewer: raven-1 queries, tavus-auto STT, idle engagement.
INTERVIEWER: dict[str, Any] = {
    "persona_name": "Visa Officer",
    "system_prompt": "You are a consular officer conducting a visa interview.",
    "pipeline_mode": "full",
    "layers": {
        "llm": {"model": "tavus-gpt-oss"},
        "perception": {
            "perception_model": "raven-1",
            "visual_awareness_queries": ["Is the applicant looking at the camera?"],
            "perception_analysis_queries": ["Did the applicant appear nervous?"],
        },
        "stt": {"stt_engine": "tavus-auto", "hotwords": ["DS-160", "F-1"]},
        "conversational_flow": {
            "turn_detection_model": "sparrow-1",
            "turn_taking_patience": "low",
            "replica_interruptibility": "high",
            "idle_engagement": "eager",
        },
    },
}

# The docs' full create-persona example (string booleans, vqa, llm headers/extra_body).
DOCS_FULL_EXAMPLE: dict[str, Any] = {
    "persona_name": "Life Coach",
    "system_prompt": "As a Life Coach, you are a dedicated professional who specializes in...",
    "pipeline_mode": "full",
    "context": "Here are a few times that you have helped an individual make a breakthrough in...",
    "default_replica_id": "r79e1c033f",
    "document_ids": ["d1234567890", "d2468101214"],
    "document_tags": ["product_info", "company_policies"],
    "layers": {
        "llm": {
            "model": "custom-model",
            "base_url": "https://your-llm.example.com/v1",
            "api_key": secret("LLM_KEY"),
            "tools": [WEATHER_TOOL],
            "headers": {"Authorization": secret("LLM_AUTH")},
            "extra_body": {"temperature": 0.5},
        },
        "tts": {
            "api_key": secret("CARTESIA_KEY"),
            "tts_engine": "cartesia",
            "external_voice_id": "external-voice-id",
            "voice_settings": {"speed": "normal", "emotion": ["positivity:high", "curiosity"]},
            "playht_user_id": "your-playht-user-id",
            "tts_emotion_control": "false",
            "tts_model_name": "sonic",
        },
        "vqa": {"enable_vision": "false", "prompt": "What is in this image?"},
        "stt": {
            "stt_engine": "tavus-turbo",
            "participant_pause_sensitivity": "low",
            "participant_interrupt_sensitivity": "low",
            "hotwords": "This is a hotword example",
            "smart_turn_detection": True,
        },
        "conversational_flow": {
            "turn_detection_model": "sparrow-1",
            "turn_taking_patience": "medium",
            "turn_commitment": "medium",
            "replica_interruptibility": "high",
            "active_listening": "off",
        },
    },
}

REAL_PERSONAS: dict[str, dict[str, Any]] = {
    "customer_service": CUSTOMER_SERVICE,
    "iss_tracker": ISS_TRACKER,
    "livekit_echo": LIVEKIT_ECHO,
    "pixal": PIXAL,
    "echo_elevenlabs": ECHO_ELEVENLABS,
    "car_sales": CAR_SALES,
    "interviewer": INTERVIEWER,
    "docs_full_example": DOCS_FULL_EXAMPLE,
}


@pytest.mark.parametrize("name", sorted(REAL_PERSONAS))
def test_real_personas_have_no_errors(name: str) -> None:
    assert errors(check_persona(REAL_PERSONAS[name])) == []


def test_real_personas_warnings_are_only_legacy_fields() -> None:
    for name in ("iss_tracker", "livekit_echo", "pixal", "echo_elevenlabs", "car_sales"):
        assert check_persona(REAL_PERSONAS[name]) == [], name
    legacy = {i.path[-1] for i in check_persona(CUSTOMER_SERVICE)}
    assert legacy == {"ambient_awareness_queries", "perception_tool_prompt", "perception_tools"}


REAL_CONVERSATIONS: list[dict[str, Any]] = [
    # docs: call duration and timeouts
    {
        "persona_id": "pdced222244b",
        "replica_id": "rfe12d8b9597",
        "callback_url": "https://yourwebsite.com/webhook",
        "conversation_name": "Improve Sales Technique",
        "conversational_context": "I want to improve my sales techniques.",
        "properties": {
            "max_call_duration": 1800,
            "participant_left_timeout": 60,
            "participant_absent_timeout": 120,
        },
    },
    # docs: full customizations
    {
        "replica_id": "r79e1c033f",
        "callback_url": "https://yourwebsite.com/webhook",
        "conversation_name": "A Meeting with Hassaan",
        "custom_greeting": "Hey there Hassaan, long time no see!",
        "properties": {
            "max_call_duration": 3600,
            "participant_left_timeout": 60,
            "participant_absent_timeout": 300,
            "enable_recording": True,
            "enable_closed_captions": True,
            "apply_greenscreen": True,
            "language": "multilingual",
            "recording_s3_bucket_name": "conversation-recordings",
            "recording_s3_bucket_region": "us-east-1",
            "aws_assume_role_arn": "",
        },
    },
    # LiveKit avatar plugin
    {
        "replica_id": "r72f7f7f7c8b",
        "conversation_name": "lk_conversation_abc",
        "properties": {"livekit_ws_url": "wss://lk.example", "livekit_room_token": secret("LK")},
    },
    # private room, test mode, knowledge base, memories
    {
        "replica_id": "rf4e9d9790f0",
        "require_auth": True,
        "test_mode": True,
        "audio_only": "false",
        "memory_stores": ["anna"],
        "document_ids": ["doc_1234567890"],
        "document_tags": ["sales", "marketing"],
        "document_retrieval_strategy": "balanced",
        "max_participants": 2,
    },
]


@pytest.mark.parametrize("index", range(len(REAL_CONVERSATIONS)))
def test_real_conversations(index: int) -> None:
    assert check_conversation(REAL_CONVERSATIONS[index]) == []


# ----------------------------------------------------------------------------- public bodies
# Request bodies found in public code and docs (api keys replaced by secret placeholders,
# long prompts and tool lists shortened). Each must check without errors.

# tools of the TreeHacks assistant below (shortened)
SPOTIFY_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "play_track",
            "description": "Play a specific track on Spotify by name",
            "parameters": {
                "type": "object",
                "properties": {
                    "track_name": {"type": "string", "description": "The name of the track to play"}
                },
                "required": ["track_name"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "next_track",
            "description": "Skip to the next track in Spotify",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "num_results": {"type": "integer", "default": 5},
                    "search_type": {
                        "type": "string",
                        "enum": ["neural", "keyword"],
                        "default": "neural",
                    },
                },
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {"name": "pause_track", "description": "Pause the current track on Spotify"},
    },
]

PUBLIC_PERSONAS: dict[str, dict[str, Any]] = {
    # mikkeline-elleby/TAVUS-TEST-HARNESS configs/persona/teamwise_v3_1.json
    "teamwise": {
        "persona_name": "Condition A Facilitator",
        "system_prompt": "You are TeamWise, an AI discussion facilitator.",
        "pipeline_mode": "full",
        "context": "You're having a video conversation with participants in a collaborative set...",
        "default_replica_id": "r5dc7c7d0bcb",
        "layers": {
            "perception": {"perception_model": "raven-1"},
            "conversational_flow": {
                "turn_taking_patience": "low",
                "replica_interruptibility": "high",
                "wake_phrase": "hey Facilitator",
                "idle_engagement": "patient",
            },
        },
    },
    # mikkeline-elleby/TAVUS-TEST-HARNESS configs/persona/facilitator.example.json, as tune.py
    # compiles it with presets/layers/{llm/tavus_llama,tts/cartesia_sonic,
    # stt/names_meeting,perception/basic}.json
    "harness_facilitator": {
        "persona_name": "Meeting Facilitator",
        "pipeline_mode": "full",
        "system_prompt": "You are TeamWise, a meeting facilitator who keeps sessions focused an...",
        "context": "Guide discussions, ensure participation, and summarize key points at the end.",
        "default_replica_id": "r4317e64d25a",
        "layers": {
            "llm": {
                "model": "tavus-llama",
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "take_meeting_notes",
                            "description": "Captures and organizes key discussion points into s...",
                            "parameters": {
                                "type": "object",
                                "properties": {
                                    "content": {
                                        "type": "string",
                                        "description": "Spoken content to extract and organize...",
                                    }
                                },
                                "required": ["content"],
                            },
                        },
                    }
                ],
            },
            "tts": {
                "tts_engine": "cartesia",
                "voice_settings": {"speed": "normal", "emotion": ["positivity:high", "curiosity"]},
                "tts_emotion_control": False,
                "tts_model_name": "sonic",
            },
            "stt": {
                "stt_engine": "tavus-advanced",
                "participant_pause_sensitivity": "high",
                "participant_interrupt_sensitivity": "high",
                "smart_turn_detection": True,
                "hotwords": ["Julie", "Mikkel", "Alex", "Sam", "TeamWise"],
            },
            "perception": {"perception_model": "basic"},
        },
    },
    # ARIA life-sciences persona manager (Python; ARIA_PERSONA_LAYERS), llm.tools (ARIA_VIDEO_TOOLS,
    # defined in another module) left out; hotwords are one space-joined string
    "aria": {
        "persona_name": "ARIA - Life Sciences AI Director",
        "system_prompt": "You are ARIA ...",
        "guardrails_id": "g12345",
        "default_replica_id": "r1234567890",
        "layers": {
            "perception": {
                "perception_model": "raven-1",
                "visual_awareness_queries": [
                    "Is the user looking at the screen or away?",
                    "Is the user taking notes or typing?",
                ],
                "perception_analysis_queries": [
                    "Summarize the user's emotional state throughout the conversation"
                ],
                "perception_tool_prompt": "You have two perception tools available. ...",
                "perception_tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "adapt_to_confusion",
                            "description": "Called when the user shows signs of confusion.",
                            "parameters": {
                                "type": "object",
                                "properties": {
                                    "confusion_indicator": {"type": "string"},
                                    "topic": {"type": "string"},
                                },
                                "required": ["confusion_indicator", "topic"],
                            },
                        },
                    },
                    {
                        "type": "function",
                        "function": {
                            "name": "note_engagement_drop",
                            "description": "Called when the user shows signs of disengagement.",
                            "parameters": {
                                "type": "object",
                                "properties": {
                                    "disengagement_type": {"type": "string"},
                                    "topic": {"type": "string"},
                                },
                                "required": ["disengagement_type", "topic"],
                            },
                        },
                    },
                ],
            },
            "conversational_flow": {
                "turn_detection_model": "sparrow-1",
                "turn_taking_patience": "medium",
                "replica_interruptibility": "low",
            },
            "stt": {"hotwords": "ARIA LuminOne Cytiva Repligen Danaher CDMO bioreactor"},
            "llm": {
                "model": "claude-sonnet-4-5-20250929",
                "base_url": "https://api.anthropic.com/v1",
                "api_key": secret("ANTHROPIC_API_KEY"),
                "speculative_inference": True,
                "extra_body": {"temperature": 0.7, "top_p": 0.9},
            },
            "tts": {
                "tts_engine": "cartesia",
                "tts_emotion_control": True,
                "voice_settings": {"speed": 0.5, "emotion": ["positivity:high", "curiosity"]},
            },
        },
    },
    # TypeScript Tavus VideoConversationPort adapter: createPersona (with the ElevenLabs branch)
    "video_port_persona": {
        "persona_name": "Atendente",
        "pipeline_mode": "full",
        "default_replica_id": "r1234567890",
        "system_prompt": "Você é ...",
        "layers": {
            "llm": {"model": "tavus-gemma-4"},
            "stt": {
                "stt_engine": "tavus-advanced",
                "participant_pause_sensitivity": "high",
                "participant_interrupt_sensitivity": "high",
                "smart_turn_detection": True,
            },
            "perception": {"perception_model": "raven-1", "ambient_awareness_queries": []},
            "tts": {
                "tts_engine": "elevenlabs",
                "api_key": secret("ELEVENLABS"),
                "external_voice_id": "voice123",
                "tts_model_name": "eleven_turbo_v2_5",
                "tts_emotion_control": True,
            },
        },
    },
    # mikkeline-elleby/semester_project_teamwise configs/persona/facilitator.example.json with
    # presets/layers/{llm/tavus-gpt-oss,conversational_flow/basic,perception/basic}.json
    "teamwise_semester": {
        "persona_name": "Meeting Facilitator",
        "system_prompt": "You are TeamWise, a meeting facilitator who keeps sessions focused an...",
        "pipeline_mode": "full",
        "context": "Guide discussions, ensure participation, and summarize key points at the end.",
        "default_replica_id": "r4317e64d25a",
        "layers": {
            "llm": {"model": "tavus-gpt-oss"},
            "perception": {"perception_model": "basic"},
            "conversational_flow": {
                "turn_detection_model": "sparrow-1",
                "turn_taking_patience": "low",
                "replica_interruptibility": "high",
                "turn_commitment": "high",
                "active_listening": "high",
            },
        },
    },
    # TreeHacks assistant "anna2" (Python create-persona script): custom LLM proxy, legacy vqa layer
    "anna2": {
        "layers": {
            "stt": {
                "participant_interrupt_sensitivity": "high",
                "stt_engine": "tavus-turbo",
                "participant_pause_sensitivity": "high",
            },
            "llm": {
                "model": "gpt-4o-mini",
                "base_url": "https://proxy.dhr.wtf",
                "tools": SPOTIFY_TOOLS,
                "api_key": secret("LLM"),
                "speculative_inference": True,
            },
            "tts": {
                "tts_engine": "elevenlabs",
                "api_key": secret("ELEVEN"),
                "external_voice_id": "zuyhdfIJfykSAcc7orW6",
            },
            "vqa": {"enable_vision": "true", "prompt": "Compliment the user sometimes."},
        },
        "persona_name": "anna2",
        "system_prompt": "You are a digital assistant. But a friendly one.",
        "default_replica_id": "ra32c0504006",
        "context": "You may be asked to call people.",
    },
    # "Jordan v2.0" candidate-screening agent config (JS, buildPersonaPayload); the app-side
    # `conversational_context_template` and an undocumented empty `perception.tool_prompt` left out
    "jordan": {
        "persona_name": "Jordan – Virtual Candidate Screening Agent v2.0",
        "system_prompt": "<role>You are Jordan, an AI candidate screening specialist.</role>",
        "layers": {
            "llm": {
                "model": "tavus-claude-haiku-4.5",
                "speculative_inference": True,
                "extra_body": {"temperature": 0.3},
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "save_partial_screening",
                            "description": "Save whatever candidate data has been collected so...",
                            "parameters": {
                                "type": "object",
                                "required": ["full_name", "reason_incomplete"],
                                "properties": {
                                    "full_name": {"type": "string"},
                                    "reason_incomplete": {"type": "string"},
                                    "certifications": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                    },
                                    "available_evenings": {"type": "boolean"},
                                    "fit_signal": {
                                        "type": "string",
                                        "enum": [
                                            "strong_fit",
                                            "potential_fit",
                                            "concern",
                                            "not_qualified",
                                        ],
                                    },
                                },
                            },
                        },
                    }
                ],
            },
            "tts": {
                "tts_engine": "cartesia",
                "tts_model_name": "sonic-3",
                "tts_emotion_control": True,
                "external_voice_id": "f24ae0b7-a3d2-4dd1-89df-959bdc4ab179",
                "voice_settings": {},
                "pronunciation_dictionary_id": None,
            },
            "stt": {
                "stt_engine": "tavus-advanced",
                "smart_turn_detection": True,
                "participant_pause_sensitivity": "high",
                "participant_interrupt_sensitivity": "low",
                "hotwords": "ServSafe, TIPS, CNA, HHA, OSHA, forklift",
            },
            "conversational_flow": {
                "turn_detection_model": "sparrow-1",
                "turn_taking_patience": "high",
                "replica_interruptibility": "low",
            },
            "perception": {
                "perception_model": "raven-1",
                "visual_awareness_queries": ["Is the candidate alone in the frame?"],
                "audio_awareness_queries": [
                    "Does the candidate sound confident, hesitant, or disengaged?"
                ],
                "perception_analysis_queries": [
                    "Summarize the candidate's emotional arc across the interview in 2-3 sentences."
                ],
                "visual_tools": [],
                "visual_tool_prompt": "",
                "audio_tool_prompt": "You have two audio-triggered tools.",
                "audio_tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "escalate_to_recruiter",
                            "parameters": {
                                "type": "object",
                                "required": ["reason"],
                                "properties": {"reason": {"type": "string", "maxLength": 300}},
                            },
                            "description": "Trigger when candidate is distressed.",
                        },
                    }
                ],
            },
        },
        "pipeline_mode": "full",
    },
    # Galbaz1/CTBTO-Avatar-Project refrence_only/examples/cvi-ui-conversation/ROSA_PERSONA_CONFIG.md
    "rosa": {
        "persona_name": "ROSA - CTBTO SnT 2025 Assistant",
        "pipeline_mode": "full",
        "system_prompt": "You are ROSA, a sophisticated diplomatic conference assistant.",
        "context": "CONFERENCE DETAILS: CTBTO SnT 2025",
        "default_replica_id": "rb67667672ad",
        "layers": {
            "llm": {
                "model": "tavus-gpt-4o",
                "speculative_inference": True,
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "getWeatherAndTime",
                            "description": "Get current weather conditions and local time for a...",
                        },
                    }
                ],
            },
            "perception": {
                "perception_model": "raven-0",
                "ambient_awareness_queries": [
                    "Does the user appear lost or confused about conference navigation?"
                ],
            },
            "stt": {
                "stt_engine": "tavus-advanced",
                "participant_pause_sensitivity": "low",
                "participant_interrupt_sensitivity": "low",
                "smart_turn_detection": True,
                "hotwords": "ROSA,Vienna,conference,SnT,CTBTO",
            },
        },
    },
    # Galbaz1/CTBTO-Avatar-Project (Rosa lip-sync script): PATCH values for /layers/perception and
    # /layers/stt, checked as the persona they produce
    "rosa_patch": {
        "system_prompt": "You are ROSA.",
        "layers": {
            "llm": {"speculative_inference": True},
            "perception": {"perception_model": "off"},
            "stt": {
                "stt_engine": "tavus-advanced",
                "participant_pause_sensitivity": "high",
                "participant_interrupt_sensitivity": "high",
                "smart_turn_detection": True,
            },
        },
    },
    # pipecat-ai/pipecat src/pipecat/services/tavus/test_scripts/create_persona.sh
    "pipecat_stream": {
        "persona_name": "Pipecat",
        "system_prompt": "",
        "pipeline_mode": "echo",
        "context": "",
        "layers": {
            "transport": {
                "input_settings": {"microphone": {"isEnabled": True}},
                "output_settings": {},
                "room_settings": {
                    "enable_chat": True,
                    "enable_knocking": False,
                    "enable_prejoin_ui": True,
                    "enable_network_ui": True,
                    "enable_screenshare": True,
                    "eject_at_room_exp": False,
                    "eject_after_elapsed": 0,
                    "exp": 32503680000,
                    "nbf": 0,
                    "start_video_off": False,
                    "start_audio_off": False,
                    "enable_people_ui": True,
                    "enable_noise_cancellation_ui": True,
                    "enable_recording": "cloud",
                    "recordings_bucket": None,
                    "enable_multiparty_adaptive_simulcast": True,
                    "enable_adaptive_simulcast": True,
                    "enable_live_captions_ui": False,
                    "enable_transcription": False,
                },
                "transport_type": "daily",
            }
        },
    },
    # NexusRep TavusRealtimeProvider (TypeScript): ensurePersona body built by layersFor();
    # sends both pal_interruptibility (current docs name) and replica_interruptibility
    "nexusrep": {
        "persona_name": "NexusRep",
        "system_prompt": "You are a compliant pharma rep.",
        "default_replica_id": "r1234567890",
        "pipeline_mode": "full",
        "layers": {
            "llm": {
                "base_url": "https://nexusrep.example.com/v1",
                "api_key": secret("NEXUSREP_LLM"),
                "model": "nexusrep-compliance",
                "speculative_inference": False,
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "show_isi",
                            "description": "Show safety info",
                            "parameters": {"type": "object", "properties": {}},
                        },
                    }
                ],
            },
            "stt": {"stt_engine": "tavus-deepgram-medical", "hotwords": "Ozempic, semaglutide"},
            "tts": {
                "tts_engine": "cartesia",
                "tts_model_name": "sonic-3",
                "tts_emotion_control": False,
                "voice_settings": {"speed": 1.0},
                "external_voice_id": "voice-1",
            },
            "conversational_flow": {
                "turn_detection_model": "sparrow-1",
                "turn_taking_patience": "low",
                "pal_interruptibility": "high",
                "replica_interruptibility": "high",
                "voice_isolation": "near",
                "idle_engagement": "off",
            },
        },
    },
    # roboalchemist/llm-code-docs docs/llms-txt/tavus/tts.md (Cartesia example)
    "docs_tts_cartesia": {
        "persona_name": "AI Presenter",
        "system_prompt": "You are a friendly and informative video host.",
        "pipeline_mode": "full",
        "context": "You're delivering updates in a conversational tone.",
        "default_replica_id": "r665388ec672",
        "layers": {
            "tts": {
                "tts_engine": "cartesia",
                "api_key": secret("CARTESIA"),
                "external_voice_id": "external-voice-id",
                "voice_settings": {"speed": "normal", "emotion": ["positivity:high", "curiosity"]},
                "tts_emotion_control": True,
                "tts_model_name": "sonic",
            }
        },
    },
    # roboalchemist/llm-code-docs docs/llms-txt/tavus/tts.md (ElevenLabs example)
    "docs_tts_elevenlabs": {
        "persona_name": "Narrator",
        "system_prompt": "You narrate long stories with clarity and consistency.",
        "pipeline_mode": "full",
        "context": "You're reading a fictional audiobook.",
        "default_replica_id": "r665388ec672",
        "layers": {
            "tts": {
                "tts_engine": "elevenlabs",
                "api_key": secret("ELEVEN"),
                "external_voice_id": "elevenlabs-voice-id",
                "voice_settings": {"speed": "normal"},
                "tts_model_name": "eleven_multilingual_v2",
            }
        },
    },
    # roboalchemist/llm-code-docs docs/llms-txt/tavus/stt.md
    "docs_stt": {
        "persona_name": "Customer Service Agent",
        "system_prompt": "You assist users by listening carefully and providing helpful answers.",
        "pipeline_mode": "full",
        "context": "You're handling voice-based customer support inquiries.",
        "default_replica_id": "rfe12d8b9597",
        "layers": {
            "stt": {
                "participant_pause_sensitivity": "medium",
                "participant_interrupt_sensitivity": "low",
                "hotwords": "support",
                "smart_turn_detection": True,
            }
        },
    },
    # roboalchemist/llm-code-docs docs/llms-txt/tavus/perception.md (raven-0 Fashion Advisor)
    "docs_perception_fashion": {
        "persona_name": "Fashion Advisor",
        "system_prompt": "As a Fashion Advisor, you specialize in offering tailored fashion adv...",
        "pipeline_mode": "full",
        "context": "You're having a video conversation with a client about their outfit.",
        "default_replica_id": "r79e1c033f",
        "layers": {
            "perception": {
                "perception_model": "raven-0",
                "ambient_awareness_queries": ["Is the user wearing a bright outfit?"],
                "perception_analysis_queries": [
                    "Is the user wearing multiple bright colors?",
                    "On a scale of 1-100, how often was the user looking at the screen?",
                ],
                "perception_tool_prompt": "You have a tool to notify the system when a bright o...",
                "perception_tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "notify_if_bright_outfit_shown",
                            "description": "Use this function when a bright outfit is detected...",
                            "parameters": {
                                "type": "object",
                                "properties": {
                                    "outfit_color": {
                                        "type": "string",
                                        "description": "Best guess on what color of outfit it is",
                                    }
                                },
                                "required": ["outfit_color"],
                            },
                        },
                    }
                ],
            }
        },
    },
    # roboalchemist/llm-code-docs docs/llms-txt/tavus/llm.md (custom LLM Storyteller)
    "docs_llm_custom": {
        "persona_name": "Storyteller",
        "system_prompt": "You are a storyteller who entertains people of all ages.",
        "context": "Your favorite stories include Little Red Riding Hood and The Three Little P...",
        "pipeline_mode": "full",
        "default_replica_id": "r665388ec672",
        "layers": {
            "llm": {
                "model": "gpt-3.5-turbo",
                "base_url": "https://api.openai.com/v1",
                "api_key": secret("OPENAI"),
                "speculative_inference": True,
            }
        },
    },
    # AI mock-interview app (TypeScript startConversation, via its create-persona proxy),
    # behavioral-interview branch
    "mock_interview": {
        "persona_name": "Backend engineer interviewer",
        "pipeline_mode": "full",
        "system_prompt": "You are interviewing a candidate for a backend engineer role.",
        "context": "Job description:\nBuild APIs.",
        "default_replica_id": "r1234567890",
        "layers": {
            "conversational_flow": {
                "turn_detection_model": "sparrow-2",
                "turn_taking_patience": "medium",
                "pal_interruptibility": "high",
            },
            "perception": {
                "perception_model": "raven-1",
                "visual_awareness_queries": [
                    "Is the candidate consistently visible and generally oriented toward the con..."
                ],
                "audio_awareness_queries": [
                    "Does the candidate vocal delivery generally sound clear and steady?"
                ],
            },
        },
    },
    # roboalchemist/llm-code-docs docs/llms-txt/tavus/llm.md (Tavus-hosted Health Coach)
    "docs_llm_hosted": {
        "persona_name": "Health Coach",
        "system_prompt": "You provide wellness tips and encouragement for people pursuing a hea...",
        "context": "You specialize in daily routines, diet advice, and motivational support.",
        "pipeline_mode": "full",
        "default_replica_id": "r665388ec672",
        "layers": {"llm": {"model": "tavus-gpt-4o", "speculative_inference": True}},
    },
    # rhyanvargas/8p3p-lms-nextjs src/lib/tavus/config.ts PERSONA_CONFIG, as
    # scripts/create-persona.sh sends it (its app-side `greeting: ""` left out)
    "lms_instructor": {
        "persona_name": "8p3p - AI Instructor Assistant",
        "pipeline_mode": "full",
        "system_prompt": "You are a knowledgeable and supportive course tutor.",
        "context": "You're having a 3-minute video conversation with a student about their curr...",
        "layers": {
            "perception": {
                "perception_model": "raven-0",
                "ambient_awareness_queries": [
                    "On a scale of 1-100, how often was the learner looking at the screen during..."
                ],
            },
            "tts": {"tts_model_name": "sonic-2"},
            "llm": {"model": "tavus-llama", "speculative_inference": True},
            "stt": {
                "stt_engine": "tavus-advanced",
                "participant_pause_sensitivity": "high",
                "participant_interrupt_sensitivity": "medium",
                "smart_turn_detection": True,
            },
        },
        "document_tags": ["8p3p-ch1-demo"],
        "default_replica_id": "r9fa0878977a",
        "objectives_id": "o12345",
        "guardrails_id": "g12345",
    },
}

PUBLIC_CONVERSATIONS: dict[str, dict[str, Any]] = {
    # mikkeline-elleby/TAVUS-TEST-HARNESS configs/conversation/icebreaker_with_video.json with
    # configs/conversation/recording.s3.example.json as properties file, as tune.py sends it
    "harness_conversation": {
        "persona_id": "p051439c4fd7",
        "conversation_name": "Introductory Meeting (CC)",
        "custom_greeting": "Hi, welcome everyone. Let me know when you're ready to begin.",
        "audio_only": False,
        "test_mode": False,
        "document_retrieval_strategy": "balanced",
        "properties": {
            "enable_recording": True,
            "aws_assume_role_arn": "arn:aws:iam::<your-account-id>:role/<role-name-for-tavus>",
            "recording_s3_bucket_region": "eu-west-1",
            "recording_s3_bucket_name": "your-bucket-name",
        },
    },
    # TypeScript Tavus VideoConversationPort adapter: createConversation (persona mode)
    "video_port_conversation": {
        "persona_id": "p1234567890",
        "conversation_name": "Sessão 42",
        "conversational_context": "Cliente retornando.",
        "custom_greeting": "Olá!",
        "callback_url": "https://portal.example.com/webhooks/tavus",
        "properties": {
            "max_call_duration": 600,
            "participant_left_timeout": 30,
            "language": "portuguese",
        },
    },
    # shreesh875/BRAINFEED2 src/api/createConversation.ts
    "brainfeed": {"persona_id": "p9a95912", "properties": {"apply_greenscreen": True}},
    # mikkeline-elleby/semester_project_teamwise configs/conversation/teamwise.perception.raven.json
    "teamwise_semester_conv": {
        "persona_id": "p051439c4fd7",
        "conversation_name": "TeamWise Perception Raven-0 (2p)",
        "test_mode": False,
        "conversational_context": "Two participants (Mikkeline and Julen) will join.",
        "document_retrieval_strategy": "balanced",
    },
    # "Jordan v2.0" candidate-screening agent config: conversationDefaults as properties
    "jordan_conv": {
        "persona_id": "p015ee7b4ab6",
        "replica_id": "r1234567890",
        "conversational_context": "Agency: Acme. Role: line cook.",
        "properties": {
            "max_call_duration": 900,
            "participant_left_timeout": 15,
            "participant_absent_timeout": 60,
            "enable_recording": True,
            "enable_transcription": True,
            "enable_closed_captions": True,
            "language": "english",
        },
    },
    # Galbaz1/CTBTO-Avatar-Project frontend/src/api/createConversation.ts
    "rosa_conv": {
        "persona_id": "p9c106c443e2",
        "replica_id": "rb67667672ad",
        "conversation_name": "ROSA - Pattern 1 Custom LLM",
        "properties": {
            "apply_greenscreen": True,
            "max_call_duration": 1800,
            "participant_left_timeout": 60,
        },
    },
    # pipecat-ai/pipecat src/pipecat/transports/tavus/transport.py (TavusApi.create_conversation)
    "pipecat_conv": {"replica_id": "r1234567890", "persona_id": "pipecat0"},
    # NexusRep TavusRealtimeProvider (TypeScript): startSession conversation body
    "nexusrep_conv": {
        "persona_id": "p1234567890",
        "replica_id": "r1234567890",
        "conversation_name": "sess-42",
        "conversational_context": "HCP: cardiologist",
        "audio_only": True,
        "callback_url": "https://nexusrep.example.com/tavus/callback",
        "properties": {
            "enable_closed_captions": False,
            "enable_recording": True,
            "language": "english",
        },
    },
    # roboalchemist/llm-code-docs docs/llms-txt/tavus/memories.md
    "docs_memories_conv": {
        "persona_id": "your_persona_id",
        "replica_id": "your_replica_id",
        "memory_stores": ["anna_p123"],
    },
    # roboalchemist/llm-code-docs docs/llms-txt/tavus/background-customizations.md
    "docs_greenscreen_conv": {
        "persona_id": "pdced222244b",
        "replica_id": "rfe12d8b9597",
        "callback_url": "https://yourwebsite.com/webhook",
        "conversation_name": "Improve Sales Technique",
        "conversational_context": "I want to improve my sales techniques.",
        "properties": {"apply_greenscreen": True},
    },
    # roboalchemist/llm-code-docs docs/llms-txt/tavus/create-conversation.md
    # ("Full Customizations" example)
    "docs_conv_full": {
        "replica_id": "rfe12d8b9597",
        "persona_id": "pdced222244b",
        "callback_url": "https://yourwebsite.com/webhook",
        "conversation_name": "Improve Sales Technique",
        "conversational_context": "I want to improve my sales techniques.",
        "properties": {
            "max_call_duration": 1800,
            "participant_left_timeout": 60,
            "participant_absent_timeout": 120,
            "language": "multilingual",
            "enable_closed_captions": True,
            "apply_greenscreen": True,
        },
    },
    # AI mock-interview app: create-conversation (its proxy's interview_id/callback_token left out)
    "mock_interview_conv": {
        "replica_id": "r1234567890",
        "persona_id": "p1234567890",
        "conversation_name": "Backend engineer mock interview",
        "custom_greeting": "Hi! Ready to start?",
        "properties": {
            "max_call_duration": 300,
            "enable_transcription": True,
            "enable_closed_captions": True,
            "participant_left_timeout": 120,
            "participant_absent_timeout": 300,
        },
    },
    # Tavus docs, stock PALs page: a conversation with the PAL-era names face_id/pal_id
    "docs_stock_pal_conv": {"face_id": "r90bbd427f71", "pal_id": "p1af207b8189"},
}


@pytest.mark.parametrize("name", sorted(PUBLIC_PERSONAS))
def test_public_personas_have_no_errors(name: str) -> None:
    assert errors(check_persona(PUBLIC_PERSONAS[name])) == []


@pytest.mark.parametrize("name", sorted(PUBLIC_CONVERSATIONS))
def test_public_conversations_have_no_errors(name: str) -> None:
    assert errors(check_conversation(PUBLIC_CONVERSATIONS[name])) == []


def test_public_bodies_new_fields_are_clean() -> None:
    """The fields added for these bodies raise neither errors nor warnings."""
    for name in ("teamwise", "pipecat_stream", "nexusrep"):
        assert check_persona(PUBLIC_PERSONAS[name]) == [], name
    assert check_conversation(PUBLIC_CONVERSATIONS["docs_stock_pal_conv"]) == []


def test_public_bodies_open_names_only_warn() -> None:
    """Names Tavus does not document (yet) are warnings, never errors."""
    paths = {i.path for i in check_persona(PUBLIC_PERSONAS["mock_interview"])}
    assert paths == {("layers", "conversational_flow", "turn_detection_model")}
    issues = check_persona(PUBLIC_PERSONAS["video_port_persona"])
    assert all(i.warning for i in issues)
    # tavus-gemma-4 is the official Tavus CLI's default model (a known name since the
    # PAL schema); an unknown one still only warns
    assert ("layers", "llm", "model") not in {i.path for i in issues}
    body = copy.deepcopy(PUBLIC_PERSONAS["video_port_persona"])
    body["layers"]["llm"]["model"] = "tavus-gemma-9"
    issues = check_persona(body)
    assert all(i.warning for i in issues)
    assert ("layers", "llm", "model") in {i.path for i in issues}


def test_pal_interruptibility_takes_levels() -> None:
    p = {"system_prompt": "x", "layers": {"conversational_flow": {"pal_interruptibility": "max"}}}
    err = only_error(check_persona(p))
    assert err.path == ("layers", "conversational_flow", "pal_interruptibility")


def test_real_mistakes_stay_errors() -> None:
    """A public script (roofing sales trainer) sends a misnamed layer and a made-up
    perception flag; both stay errors, each with a hint naming the real field."""
    p: dict[str, Any] = {
        "persona_name": "Coach Pro - Roofing Sales Training",
        "system_prompt": "You are Coach Pro.",
        "layers": {
            "tts": {"tts_engine": "cartesia", "tts_model_name": "sonic-3"},
            "conversational": {"turn_detection_model": "sparrow-1"},
            "perception": {"perception_model": "raven-1", "ambient_awareness": True},
        },
    }
    errs = {i.path: i.hint for i in errors(check_persona(p))}
    assert errs == {
        ("layers", "conversational"): "did you mean 'conversational_flow'?",
        ("layers", "perception", "ambient_awareness"): "did you mean 'ambient_awareness_queries'?",
    }


def test_check_never_raises_on_garbage() -> None:
    weird: list[Any] = [
        {"layers": None, "system_prompt": None},
        {"layers": [], "system_prompt": 3},
        {"layers": {"llm": {"tools": "x", "base_url": 5}}},
        {
            "layers": {
                "llm": {"tools": [None, {"function": None}, {"function": {"parameters": []}}]}
            }
        },
        {
            "layers": {
                "perception": {"visual_tools": [{"type": "function", "function": {"name": 1}}]}
            }
        },
    ]
    for payload in weird:
        check_persona(payload)
        check_conversation(payload)
    assert check_persona([]) != []  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- JSON Schemas


def test_json_schemas_are_valid_and_agree() -> None:
    for schema in (
        persona_json_schema(),
        conversation_json_schema(),
        project_json_schema(),
        persona_file_json_schema(),
        conversation_file_json_schema(),
    ):
        jsonschema.Draft202012Validator.check_schema(schema)
        json.dumps(schema)
    persona = jsonschema.Draft202012Validator(persona_json_schema())
    for body in [STORYTELLER, *REAL_PERSONAS.values()]:
        assert list(persona.iter_errors(body)) == []
    assert list(persona.iter_errors({"layers": {"llm": {"modle": "x"}}}))
    conversation = jsonschema.Draft202012Validator(conversation_json_schema())
    for body in REAL_CONVERSATIONS:
        assert list(conversation.iter_errors(body)) == []


def test_file_schemas() -> None:
    persona_file = jsonschema.Draft202012Validator(persona_file_json_schema())
    doc: dict[str, Any] = {
        "name": "storyteller",
        "extends": ["_bases/friendly.yaml"],
        "vars": {"audience": "people of all ages"},
        "persona": {"persona_name": "Mert", "system_prompt": "{% include 'p.j2' %}"},
        "variants": {"horror": {"vars": {"x": 1}, "persona": {"persona_name": "Horror"}}},
    }
    assert list(persona_file.iter_errors(doc)) == []
    assert list(persona_file.iter_errors({"persona": {"layers": {"lmm": {}}}}))
    conv_file = jsonschema.Draft202012Validator(conversation_file_json_schema())
    doc = {
        "persona": "storyteller/children",
        "inputs": {
            "user_name": {"type": "string", "required": True},
            "age": {"type": "integer", "default": 8},
        },
        "conversation": {
            "conversation_name": "Story time with {{ user_name }}",
            "replica_id": "r1",
        },
    }
    assert list(conv_file.iter_errors(doc)) == []
    project = jsonschema.Draft202012Validator(project_json_schema())
    doc = {
        "version": 1,
        "default_environment": "local",
        "vars": {"company": "Acme"},
        "environments": {
            "local": {"backend": "local"},
            "prod": {
                "backend": "tavus",
                "api_url": "https://tavusapi.com",
                "api_key_env": "TAVUS_API_KEY",
                "state": "state/prod.json",
                "vars": {"tier": "prod"},
                "overrides": {"layers": {"llm": {"base_url": "https://llm.acme.example/v1"}}},
            },
        },
    }
    assert list(project.iter_errors(doc)) == []
    assert list(project.iter_errors({"version": 1, "environments": {"x": {"backend": "cloud"}}}))
