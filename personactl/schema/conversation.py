"""Pydantic models of the conversation request body (POST /v2/conversations).

Users write the body minus `persona_id` (personactl fills it in from state), but
`persona_id` is accepted too.  Fields: the community OpenAPI copy (which also
lists several `properties` fields at the top level) plus the current docs
(`conversation_name`, `test_mode`, `require_auth`, `max_participants`,
`document_*`, `memory_stores`, the PAL-era `pal_id`/`face_id`) and LiveKit's
`properties.livekit_*`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ._types import BoolLike, RetrievalStrategy, StrList


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ConversationProperties(_Strict):
    max_call_duration: int | None = Field(default=None, ge=0)
    participant_left_timeout: int | None = Field(default=None, ge=0)
    participant_absent_timeout: int | None = Field(default=None, ge=0)
    enable_recording: bool | None = None
    enable_closed_captions: bool | None = None
    enable_transcription: bool | None = None
    apply_greenscreen: bool | None = None
    language: str | None = None
    recording_s3_bucket_name: str | None = None
    recording_s3_bucket_region: str | None = None
    aws_assume_role_arn: str | None = None
    livekit_ws_url: str | None = None
    livekit_room_token: str | None = None


class Conversation(_Strict):
    """The POST /v2/conversations request body."""

    persona_id: str | None = None
    replica_id: str | None = None
    # current docs' names (Tavus renamed personas to PALs and replicas to faces; the
    # legacy names above remain aliases): e.g. {face_id, pal_id} for the stock PALs
    pal_id: str | None = None
    face_id: str | None = None
    conversation_name: str | None = None
    callback_url: str | None = None
    conversational_context: str | None = None
    custom_greeting: str | None = None
    enable_dynamic_greeting: bool | None = None
    audio_only: BoolLike | None = None
    memory_stores: StrList | None = None
    document_ids: StrList | None = None
    document_tags: StrList | None = None
    document_retrieval_strategy: RetrievalStrategy | None = None
    test_mode: bool | None = None
    require_auth: bool | None = None
    max_participants: int | None = Field(default=None, ge=2)
    properties: ConversationProperties | None = None
    # top-level copies of call settings listed by the community OpenAPI copy
    language: str | None = None
    max_call_duration: int | None = Field(default=None, ge=0)
    idle_timeout: int | None = Field(default=None, ge=0)
    participant_left_timeout: int | None = Field(default=None, ge=0)
    enable_closed_captions: bool | None = None
    enable_recording: bool | None = None
    is_private: bool | None = None
    max_participant_count: int | None = Field(default=None, ge=1)
    apply_greenscreen: bool | None = None
    background_url: str | None = None
    background_image_url: str | None = None
    recording_s3_bucket_region: str | None = None
    recording_s3_bucket_name: str | None = None
