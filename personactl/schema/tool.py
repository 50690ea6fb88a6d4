"""A registry tool (POST /v2/tools), as the official Tavus CLI models it
(`tavus_mcp/sdk/schemas/tool.py`): a function the platform calls through exactly one
delivery channel, an app message or an HTTPS API.  Its other rules: `tool_checks`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ._types import JsonObject, choice_schema, choice_validator
from .persona import _Strict
from .tool_checks import (
    AUTH_TYPES,
    KEY_LOCATIONS,
    MAX_TIMEOUT_S,
    METHODS,
    ON_CALL,
    ON_RESOLVE,
    ORIGINS,
)

Origin = Annotated[str, choice_validator(ORIGINS), choice_schema(ORIGINS)]
OnCall = Annotated[str, choice_validator(ON_CALL), choice_schema(ON_CALL)]
OnResolve = Annotated[str, choice_validator(ON_RESOLVE), choice_schema(ON_RESOLVE)]
HttpMethod = Annotated[str, choice_validator(METHODS), choice_schema(METHODS)]
ApiKeyLocation = Annotated[str, choice_validator(KEY_LOCATIONS), choice_schema(KEY_LOCATIONS)]
AuthType = Annotated[str, choice_validator(AUTH_TYPES), choice_schema(AUTH_TYPES)]
_NonEmpty = Annotated[str, Field(min_length=1)]


class ToolAuth(_Strict):
    """How the API is authenticated; which fields apply depends on `type`."""

    type: AuthType
    token: _NonEmpty | None = None
    username: _NonEmpty | None = None
    password: _NonEmpty | None = None
    name: _NonEmpty | None = None
    value: _NonEmpty | None = None
    location: ApiKeyLocation | None = None
    secret: _NonEmpty | None = None
    token_url: _NonEmpty | None = None
    client_id: _NonEmpty | None = None
    client_secret: _NonEmpty | None = None
    scope: str | None = None


class ApiDelivery(_Strict):
    url: str = Field(min_length=1, description="https:// only; {placeholders} are parameters.")
    method: HttpMethod | None = None
    timeout: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S)
    headers: dict[str, str] | None = None
    auth: ToolAuth | None = None
    body_template: JsonObject | None = None
    query_params: dict[str, str] | None = None
    content_type: str | None = None


class ToolDelivery(_Strict):
    """Exactly one channel: `app_message: true`, or `api`."""

    app_message: bool | None = None
    api: ApiDelivery | None = None


class RegistryTool(_Strict):
    """The tool: body."""

    name: str
    description: str = Field(min_length=1)
    parameters: JsonObject | None = Field(default=None, description="JSON Schema of the arguments.")
    delivery: ToolDelivery | None = None
    origin: Origin | None = None
    on_call: OnCall | None = None
    on_resolve: OnResolve | None = None
    static_filler: str | None = None
    tags: list[str] | None = None
