"""An objective set (POST /v2/objectives), as the official Tavus CLI models it
(`tavus_mcp/sdk/schemas/objective.py`): a named list of objective items that refer to
each other by `objective_name`.  Its other rules: `objective_checks`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ._types import JsonObject, StrList, choice_schema, choice_validator
from .objective_checks import CONFIRMATION_MODES, MAX_NAME, MAX_OBJECTIVES, MODALITIES
from .persona import _Strict

Modality = Annotated[str, choice_validator(MODALITIES), choice_schema(MODALITIES)]
ConfirmationMode = Annotated[
    str, choice_validator(CONFIRMATION_MODES), choice_schema(CONFIRMATION_MODES)
]


class ObjectiveItem(_Strict):
    """One objective of a set."""

    objective_name: str = Field(max_length=MAX_NAME)
    objective_prompt: str = Field(max_length=10_000)
    confirmation_mode: ConfirmationMode | None = None
    output_variables: StrList | None = Field(default=None, max_length=50)
    modality: Modality | None = None
    next_conditional_objectives: dict[str, str] | None = Field(
        default=None, description="objective_name -> the condition that leads to it."
    )
    next_required_objective: str | None = None
    callback_url: str | None = Field(default=None, max_length=2048)
    tool_call: JsonObject | None = None


class ObjectiveSet(_Strict):
    """The objectives: body: one objective set."""

    name: str | None = Field(default=None, max_length=MAX_NAME)
    data: list[ObjectiveItem] = Field(min_length=1, max_length=MAX_OBJECTIVES)
    allow_loops: bool | None = None
