"""The rules of a registry tool (POST /v2/tools) beyond its shape: names, sizes, the
delivery channel, https, auth fields and URL placeholders.  No pydantic: the models in
`tool.py` take their closed sets from here, and a compile checks these without them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, TypeGuard

from personactl.sensitive import is_placeholder

from ._issues import Path, SchemaIssue, show
from .semantic import check_parameters

TOOL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
RESERVED_PREFIX = "tavus_"  # system placeholders
MAX_TOOL_SIZE = 10_000  # description plus the JSON of parameters
BODYLESS_METHODS = ("GET", "HEAD", "DELETE")
MAX_TIMEOUT_S = 60


ORIGINS = ("llm", "vision", "audio")
ON_CALL = ("generate_filler", "static_filler", "silent", "passthrough")
ON_RESOLVE = ("generate_response", "response_in_result", "add_to_context", "fire_and_forget")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
KEY_LOCATIONS = ("header", "query")
# auth type -> its fields (required, then optional); the credential of each is in AUTH_SECRETS
AUTH_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "none": ((), ()),
    "bearer": (("token",), ()),
    "basic": (("username", "password"), ()),
    "api_key": (("name", "value"), ("location",)),
    "hmac": (("secret",), ()),
    "oauth2_client_credentials": (("token_url", "client_id", "client_secret"), ("scope",)),
}
AUTH_TYPES = tuple(AUTH_FIELDS)
# every field of an auth object but `type` (the model's fields: a test holds them equal)
AUTH_KEYS: frozenset[str] = frozenset(f for req, opt in AUTH_FIELDS.values() for f in (*req, *opt))
# delivery.api.auth fields that hold credentials: they must come from secret()
AUTH_SECRETS: frozenset[str] = frozenset({"token", "password", "value", "secret", "client_secret"})


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _plain(value: Any) -> TypeGuard[str]:
    """A string personactl can check: not a secret() placeholder."""
    return isinstance(value, str) and not is_placeholder(value)


def check_tool_semantics(payload: Mapping[str, Any]) -> list[SchemaIssue]:
    issues: list[SchemaIssue] = []
    name = payload.get("name")
    if _plain(name) and not TOOL_NAME_RE.match(name):
        issues.append(
            SchemaIssue(
                ("name",),
                f"invalid tool name {show(name)}: must match ^[a-zA-Z_][a-zA-Z0-9_]{{0,63}}$",
                "a letter or '_' first, then letters, digits and '_' (no '-'), at most 64",
            )
        )
    params = payload.get("parameters")
    if isinstance(params, Mapping):
        issues.extend(check_parameters(params, ("parameters",)))
        issues.extend(_check_size(payload.get("description"), params))
    issues.extend(_check_origin(payload))
    delivery = payload.get("delivery")
    if isinstance(delivery, Mapping):
        issues.extend(_check_delivery(delivery, _dict(params)))
    return issues


def _check_size(description: Any, params: Mapping[str, Any]) -> list[SchemaIssue]:
    if not isinstance(description, str):
        return []
    size = len(description) + len(json.dumps(params, sort_keys=True))
    if size <= MAX_TOOL_SIZE:
        return []
    return [
        SchemaIssue(
            ("description",),
            f"description and parameters take {size:,} characters; at most {MAX_TOOL_SIZE:,}",
        )
    ]


def _check_origin(payload: Mapping[str, Any]) -> list[SchemaIssue]:
    origin = payload.get("origin", "llm")
    on_call = payload.get("on_call")
    if origin == "llm":
        filler = payload.get("static_filler")
        if on_call == "static_filler" and not (isinstance(filler, str) and filler.strip()):
            return [
                SchemaIssue(
                    ("on_call",),
                    "on_call: static_filler needs a non-empty static_filler",
                    "add static_filler: the words said while the tool runs",
                )
            ]
        return []
    if origin not in ORIGINS:
        return []  # reported by the model
    issues = [
        SchemaIssue((key,), f"{key} does not apply to {origin} tools", "remove it", key=True)
        for key in ("on_call", "static_filler")
        if payload.get(key) is not None
    ]
    if payload.get("on_resolve") not in (None, "fire_and_forget"):
        issues.append(
            SchemaIssue(("on_resolve",), f"on_resolve must be fire_and_forget for {origin} tools")
        )
    return issues


def _check_delivery(delivery: Mapping[str, Any], params: Mapping[str, Any]) -> list[SchemaIssue]:
    app_message = delivery.get("app_message") is True
    api = delivery.get("api")
    issues: list[SchemaIssue] = []
    if app_message and api is not None:
        issues.append(
            SchemaIssue(
                ("delivery",),
                "delivery must enable exactly one channel: app_message or api, not both",
            )
        )
    elif not app_message and api is None:
        issues.append(
            SchemaIssue(("delivery",), "delivery must enable a channel: app_message: true, or api")
        )
    if isinstance(api, Mapping):
        issues.extend(_check_api(api, params))
    return issues


def _check_api(api: Mapping[str, Any], params: Mapping[str, Any]) -> list[SchemaIssue]:
    base: Path = ("delivery", "api")
    issues: list[SchemaIssue] = []
    issues.extend(_https(api.get("url"), (*base, "url")))
    method = api.get("method", "POST")
    if method in BODYLESS_METHODS and api.get("body_template") is not None:
        issues.append(
            SchemaIssue(
                (*base, "body_template"),
                f"a {method} request has no body: body_template does not apply",
                "use query_params, or method: POST",
                key=True,
            )
        )
    auth = api.get("auth")
    if isinstance(auth, Mapping):
        issues.extend(_check_auth(auth, api, (*base, "auth")))
    issues.extend(_check_placeholders(api, params, base))
    return issues


def _https(url: Any, path: Path) -> list[SchemaIssue]:
    if not _plain(url) or url.lower().startswith("https://"):
        return []
    return [SchemaIssue(path, f"{path[-1]} must be an https:// URL, got {show(url)}")]


def _check_auth(auth: Mapping[str, Any], api: Mapping[str, Any], path: Path) -> list[SchemaIssue]:
    kind = auth.get("type")
    if kind not in AUTH_FIELDS:
        return []  # reported by the model
    required, optional = AUTH_FIELDS[kind]
    issues = [
        SchemaIssue(path, f"auth type {kind} needs {field}")
        for field in required
        if field not in auth
    ]
    issues.extend(
        SchemaIssue((*path, key), f"{key} does not apply to auth type {kind}", key=True)
        for key in auth
        if key != "type" and key not in required and key not in optional and key in AUTH_KEYS
    )
    if kind == "oauth2_client_credentials":
        issues.extend(_https(auth.get("token_url"), (*path, "token_url")))
    if kind == "hmac":
        ignored = [k for k in ("body_template", "query_params") if api.get(k) is not None]
        if _plain(api.get("url")) and PLACEHOLDER_RE.search(api["url"]):
            ignored.append("url placeholders")
        if ignored:
            issues.append(
                SchemaIssue(
                    (*path, "type"),
                    f"auth type hmac signs the request as sent: {', '.join(ignored)} "
                    "cannot be used with it",
                )
            )
    return issues


def _strings(value: Any, path: Path) -> Iterator[tuple[str, Path]]:
    if isinstance(value, str):
        yield value, path
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _check_placeholders(
    api: Mapping[str, Any], params: Mapping[str, Any], base: Path
) -> list[SchemaIssue]:
    """Every {placeholder} of the url, body_template and query_params is a parameter."""
    declared = _dict(params.get("properties"))
    issues = [
        SchemaIssue(
            ("parameters", "properties", name),
            f"parameter {name!r}: names starting with {RESERVED_PREFIX!r} are reserved "
            "for Tavus system placeholders",
            key=True,
        )
        for name in declared
        if name.startswith(RESERVED_PREFIX)
    ]
    for key in ("url", "body_template", "query_params"):
        for text, path in _strings(api.get(key), (*base, key)):
            for name in PLACEHOLDER_RE.findall(text):
                if name not in declared and not name.startswith(RESERVED_PREFIX):
                    issues.append(
                        SchemaIssue(
                            path,
                            f"placeholder {{{name}}} is not a parameter of the tool",
                            f"declare {name} under parameters.properties",
                        )
                    )
    return issues
