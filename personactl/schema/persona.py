"""Pydantic models of the Tavus persona object (POST /v2/personas, persona_id excluded).

Fields come from the community OpenAPI copy, the custom-LLM reference text and
the current docs.tavus.io layer pages (llm, tts, stt, perception,
conversational_flow), plus what real payloads in public code send (`pipeline_mode:
echo`, `layers.transport`, string booleans for `tts_emotion_control`, a string
`hotwords`, numeric `voice_settings.speed`, wider STT sensitivities, the PAL-era
`conversational_flow.pal_interruptibility`, Daily `transport` room settings), and the
current PAL object as the official Tavus CLI models it (`tavus_mcp/sdk/schemas/pal.py`:
`greeting`, `memories`, `guardrail_ids`, `tool_ids`, `is_template`, speech-to-speech, the
`sts`, `conferencing`, `capabilities` and `knowledge_base` layers).  Both vocabularies are
fields here (`persona_name`/`pal_name`, ...); which one a compiled body uses is
`personactl.compile.vocabulary`'s business.  Where the CLI is stricter than real payloads
(it rejects `persona_name` and inline `llm.tools`), the models follow the payloads.
Every model forbids unknown keys except `voice_settings`, which is engine-specific, the
free-form `sts` layer (as the CLI has it), and the Daily settings objects of the transport
layer, which are Daily's own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ._types import (
    ActiveListening,
    BoolLike,
    JsonObject,
    Level,
    PipelineMode,
    Sensitivity,
    Speed,
    StrList,
    StrOrStrList,
    ToolType,
)

MAX_TOOL_IDS = 50  # the official client's MAX_PAL_TOOLS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ToolFunction(_Strict):
    """The OpenAI-style function of a tool."""

    name: str
    description: str | None = None
    parameters: JsonObject | None = Field(
        default=None, description="JSON Schema of the function's arguments."
    )
    strict: bool | None = None


class Tool(_Strict):
    """A function-calling tool: {type: "function", function: {name, description, parameters}}."""

    type: ToolType
    function: ToolFunction


class LLMLayer(_Strict):
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    # inline tools: the official CLI rejects them (registry tools go in tool_ids), but
    # real payloads send them and the platform takes them
    tools: list[Tool] | None = None
    speculative_inference: bool | None = None
    headers: dict[str, str] | None = None
    extra_body: JsonObject | None = None
    default_query: JsonObject | None = None
    disable_vision: bool | None = None
    enable_llm_proxy: bool | None = None
    model_name: str | None = None
    is_custom: bool | None = None
    endpoint: str | None = None


class VoiceSettings(BaseModel):
    """Engine-specific voice settings; keys beyond the documented ones pass through."""

    model_config = ConfigDict(extra="allow", strict=True)

    speed: Speed | None = None
    emotion: StrOrStrList | None = None
    volume: float | None = None
    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    use_speaker_boost: bool | None = None


class TTSLayer(_Strict):
    tts_engine: str | None = None
    api_key: str | None = None
    external_voice_id: str | None = None
    playht_user_id: str | None = None
    tts_model_name: str | None = None
    pronunciation_dictionary_id: str | None = None
    tts_emotion_control: BoolLike | None = None
    voice_settings: VoiceSettings | None = None


class STTLayer(_Strict):
    stt_engine: str | None = None
    participant_pause_sensitivity: Sensitivity | None = None
    participant_interrupt_sensitivity: Sensitivity | None = None
    hotwords: StrOrStrList | None = None
    smart_turn_detection: bool | None = None


class PerceptionLayer(_Strict):
    perception_model: str | None = None
    visual_awareness_queries: StrList | None = None
    audio_awareness_queries: StrList | None = None
    perception_analysis_queries: StrList | None = None
    visual_tool_prompt: str | None = None
    visual_tools: list[Tool] | None = None
    audio_tool_prompt: str | None = None
    audio_tools: list[Tool] | None = None
    tool_prompt: str | None = None
    # raven-0 names, still accepted (with a warning naming the current field)
    ambient_awareness_queries: StrList | None = None
    perception_tool_prompt: str | None = None
    perception_tools: list[Tool] | None = None


class ConversationalFlowLayer(_Strict):
    turn_detection_model: str | None = None
    turn_taking_patience: Level | None = None
    turn_commitment: Level | None = None
    # three names of one field (see personactl.compile.vocabulary)
    replica_interruptibility: Level | None = None
    pal_interruptibility: Level | None = Field(
        default=None,
        description="The PAL docs' name for replica_interruptibility.",
    )
    face_interruptibility: Level | None = Field(
        default=None,
        description="The official Tavus CLI's name for replica_interruptibility.",
    )
    active_listening: ActiveListening | None = None
    voice_isolation: str | None = None
    noise_cancellation: str | None = None
    idle_engagement: str | None = None
    wake_phrase: str | None = Field(
        default=None, description="Phrase that wakes the replica (system.wake_phrase_detected)."
    )
    sleep_phrase: str | None = Field(
        default=None, description="Phrase that puts the replica back to sleep."
    )


class VQALayer(_Strict):
    """Legacy vision layer."""

    enabled: BoolLike | None = None
    enable_vision: BoolLike | None = None
    prompt: str | None = None


class TransportLayer(_Strict):
    """Media transport, e.g. {transport_type: livekit} for LiveKit avatars (echo mode).

    The Daily transport also takes the room's settings: `room_settings` are Daily room
    properties, `input_settings`/`output_settings` Daily call settings (Pipecat's
    pipecat-stream persona sends all three), so their contents pass through unchecked.
    """

    transport_type: str | None = None
    input_settings: JsonObject | None = None
    output_settings: JsonObject | None = None
    room_settings: JsonObject | None = None


class STSLayer(BaseModel):
    """Speech-to-speech settings; free-form, as the official client has it."""

    model_config = ConfigDict(extra="allow", strict=True)


class ConferencingLayer(_Strict):
    """Meeting settings.  The platform wants this layer PATCHed on its own ("live-owned")."""

    username: str | None = None
    allowlist: StrList | None = None
    whitelabel: bool | None = None


class CapabilitiesLayer(_Strict):
    mcp_enabled: bool | None = None
    search_enabled: bool | None = None
    activity_log_enabled: bool | None = None
    search_results_prompt_injection_prevention_enabled: bool | None = None


class KnowledgeBaseLayer(_Strict):
    rag_score_threshold: float | None = None
    rag_n_chunks: int | None = None
    rag_surrounding_chunk_radius: int | None = None
    enable_rag_observability_app_messages: bool | None = None
    use_procedure_goalchain: bool | None = None


class Layers(_Strict):
    llm: LLMLayer | None = None
    tts: TTSLayer | None = None
    stt: STTLayer | None = None
    perception: PerceptionLayer | None = None
    conversational_flow: ConversationalFlowLayer | None = None
    vqa: VQALayer | None = None
    transport: TransportLayer | None = None
    sts: STSLayer | None = None
    conferencing: ConferencingLayer | None = None
    capabilities: CapabilitiesLayer | None = None
    knowledge_base: KnowledgeBaseLayer | None = None


class Persona(_Strict):
    """The Tavus persona (PAL) object as users write it (persona_id/pal_id excluded)."""

    # two names of one field each (see personactl.compile.vocabulary)
    persona_name: str | None = None
    pal_name: str | None = Field(default=None, description="The PAL name of persona_name.")
    system_prompt: str | None = None
    greeting: str | None = None
    context: str | None = None
    default_replica_id: str | None = None
    default_face_id: str | None = Field(
        default=None, description="The PAL name of default_replica_id."
    )
    pipeline_mode: PipelineMode | None = None
    layers: Layers | None = None
    memories: StrList | None = Field(default=None, description="Initial seed memories.")
    guardrails_id: StrOrStrList | None = Field(
        default=None, description="A guardrails id; current docs also allow a list of ids."
    )
    guardrail_ids: StrList | None = None
    guardrail_tags: StrList | None = Field(
        default=None, description="Attaches every guardrail with one of these tags."
    )
    objectives_id: str | None = Field(default=None, description="One objective set's id.")
    document_ids: StrList | None = None
    document_tags: StrList | None = None
    tool_ids: StrList | None = Field(
        default=None, description="Registry tool ids.", max_length=MAX_TOOL_IDS
    )
    is_template: bool | None = None


LAYER_MODELS: dict[str, type[BaseModel]] = {
    "llm": LLMLayer,
    "tts": TTSLayer,
    "stt": STTLayer,
    "perception": PerceptionLayer,
    "conversational_flow": ConversationalFlowLayer,
    "vqa": VQALayer,
    "transport": TransportLayer,
    "sts": STSLayer,
    "conferencing": ConferencingLayer,
    "capabilities": CapabilitiesLayer,
    "knowledge_base": KnowledgeBaseLayer,
}
