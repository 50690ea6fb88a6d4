"""A guardrail (POST /v2/guardrails), as the official Tavus CLI models it
(`tavus_mcp/sdk/schemas/guardrail.py`): one flat rule."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ._types import JsonObject
from .objectives import Modality
from .persona import _Strict

MAX_TAGS = 32
Tag = Annotated[str, Field(min_length=1)]


class Guardrail(_Strict):
    """The guardrail: body."""

    guardrail_name: str = Field(min_length=1)
    guardrail_prompt: str = Field(min_length=1)
    modality: Modality | None = None
    callback_url: str | None = None
    tool_call: JsonObject | None = None
    app_message: bool | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
