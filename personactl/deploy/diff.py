"""Three-way diff (as `kubectl apply`): desired config, last applied (state), deployed.

- A key the configuration declares is compared with the deployed value.
- A key applied before and no longer declared is removed.
- A key never declared (server-side fields, API defaults) never shows as a change.
- Sensitive values are compared with the salted digest kept in state (personactl.digests),
  never with what the API returns (it may mask or omit them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from personactl import sensitive
from personactl.digests import digest, is_current, is_digest, verify

_MISSING: Any = object()


def pointer(parent: str, key: str | int) -> str:
    return f"{parent}/{str(key).replace('~', '~0').replace('/', '~1')}"


def same(a: Any, b: Any) -> bool:
    """JSON equality: 1 is not true, 1 equals 1.0, key order never matters."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def canonical(obj: Any) -> str:
    """JSON text equal for equal JSON data (key order aside): equal texts are `same`."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(obj: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical(obj).encode()).hexdigest()


def hashed(
    desired: Any,
    previous: Any,
    environ: Mapping[str, str],
    *,
    secrets: bool | None = None,
    memo: dict[str, str] | None = None,
) -> Any:
    """The payload as state keeps it: each sensitive string as a salted digest
    (the previous digest is kept when the value did not change, so state does not churn;
    an older-format one is rewritten).  `secrets`: whether it holds any, if known.
    `memo`: sensitive string -> its new digest, shared by the payloads of one plan (the
    personas of a fleet share their keys), for as long as `environ` does not change.
    With nothing previous (a create), `digested_json` does the same on the JSON text."""
    # one C-speed scan of the whole payload, not one per level
    if secrets is None:
        secrets = sensitive.contains(desired)
    if not secrets:
        return desired
    return _hashed(desired, previous, environ, {} if memo is None else memo)


def digested_json(encoded: str, environ: Mapping[str, str], memo: dict[str, str]) -> str | None:
    """`hashed` with nothing previous (a create) on a payload's JSON text (as json.dumps
    writes it), giving the text: each string holding a secret replaced where it stands,
    instead of a walk through every object of the payload (and the text is what the
    journal writes).  None when a secret's name hides from the text: walk instead."""
    if not sensitive.placeholders_visible(encoded):
        return None
    parts: list[str] = []
    end = 0
    for start, stop in sensitive.secret_literals(encoded):
        secret = json.loads(encoded[start:stop])
        parts += [encoded[end:start], json.dumps(new_digest(secret, environ, memo))]
        end = stop
    parts.append(encoded[end:])
    return "".join(parts)


def new_digest(sensitive_string: str, environ: Mapping[str, str], memo: dict[str, str]) -> str:
    """The digest of a string holding secrets, made once per `memo` (see `hashed`)."""
    if sensitive_string not in memo:
        memo[sensitive_string] = digest(sensitive.resolve(sensitive_string, environ))
    return memo[sensitive_string]


def _hashed(desired: Any, previous: Any, environ: Mapping[str, str], memo: dict[str, str]) -> Any:
    if _secret_string(desired):
        if is_current(previous) and verify(sensitive.resolve(desired, environ), previous):
            return previous
        return new_digest(desired, environ, memo)
    if isinstance(desired, dict):
        prev = previous if isinstance(previous, dict) else {}
        return {
            k: _hashed(v, prev.get(k), environ, memo) if _may_hold_secret(v) else v
            for k, v in desired.items()
        }
    if isinstance(desired, list):
        prev_list = previous if isinstance(previous, list) else []
        return [
            _hashed(v, prev_list[i] if i < len(prev_list) else None, environ, memo)
            if _may_hold_secret(v)
            else v
            for i, v in enumerate(desired)
        ]
    return desired


def _may_hold_secret(value: Any) -> bool:
    """Worth a look by `_hashed`: a container, or a string with a placeholder (the
    other leaves, most of a payload, are kept without a call of their own)."""
    return isinstance(value, (dict, list)) or (isinstance(value, str) and sensitive.contains(value))


@dataclass
class Diff:
    ops: list[dict[str, Any]] = field(default_factory=list)  # values may hold secret placeholders
    before: dict[str, Any] = field(default_factory=dict)  # deployed value per changed pointer
    drift: list[str] = field(default_factory=list)  # pointers changed outside personactl
    # pointers of deployed secrets that state holds no digest of (adopted by import):
    # whether their value changed is not known
    unrecorded: list[str] = field(default_factory=list)


def three_way(
    desired: Mapping[str, Any],
    applied: Mapping[str, Any] | None,
    live: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Diff:
    out = Diff()
    _walk(desired, applied or {}, live, "", environ, out)
    return out


def _walk(
    d: Mapping[str, Any],
    s: Any,
    live: Mapping[str, Any],
    ptr: str,
    environ: Mapping[str, str],
    out: Diff,
) -> None:
    s = s if isinstance(s, Mapping) else {}
    for key, dv in d.items():
        p = pointer(ptr, key)
        _compare(dv, s.get(key, _MISSING), live.get(key, _MISSING), p, environ, out)
    for key in s:
        if key not in d and key in live:
            p = pointer(ptr, key)
            out.ops.append({"op": "remove", "path": p})
            out.before[p] = sensitive.MASK if _holds_digest(s[key]) else live[key]


def _compare(dv: Any, sv: Any, lv: Any, p: str, environ: Mapping[str, str], out: Diff) -> None:
    """One declared value `dv` against state `sv` and the deployed `lv`."""
    if _secret_string(dv):
        if sv is _MISSING or not verify(sensitive.resolve(dv, environ), sv):
            _set(out, p, dv, lv, None if lv is _MISSING else sensitive.MASK)
            if sv is _MISSING and lv is not _MISSING:
                out.unrecorded.append(p)
    elif isinstance(dv, Mapping) and isinstance(lv, Mapping):
        _walk(dv, sv, lv, p, environ, out)
    elif isinstance(dv, list) and sensitive.names(dv):
        # secrets inside a list: the API masks them on read, so compare with state
        if sv is _MISSING or not recorded(dv, sv, environ):
            _set(out, p, dv, lv, None if lv is _MISSING else sensitive.MASK)
    elif lv is _MISSING or not same(dv, lv):
        # a deployed value that was applied from a secret is never shown
        before = None if lv is _MISSING else (sensitive.MASK if _holds_digest(sv) else lv)
        _set(out, p, dv, lv, before)
        if sv is not _MISSING and same(sv, dv):
            out.drift.append(p)


def _set(out: Diff, p: str, dv: Any, lv: Any, before: Any) -> None:
    out.ops.append({"op": "add" if lv is _MISSING else "replace", "path": p, "value": dv})
    out.before[p] = before


def _secret_string(value: Any) -> bool:
    return isinstance(value, str) and sensitive.contains(value)


def _holds_digest(value: Any) -> bool:
    """Whether an applied value (state) held a secret anywhere: a digest in its strings."""
    if isinstance(value, dict):
        return any(_holds_digest(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_digest(v) for v in value)
    return is_digest(value)


def recorded(desired: Any, stored: Any, environ: Mapping[str, str]) -> bool:
    """Whether state recorded exactly `desired`, secrets checked against their digests
    (of any format: a digest older than today's still matches its value)."""
    if _secret_string(desired):
        return verify(sensitive.resolve(desired, environ), stored)
    if isinstance(desired, dict) and isinstance(stored, dict):
        return desired.keys() == stored.keys() and all(
            recorded(desired[k], stored[k], environ) for k in desired
        )
    if isinstance(desired, list) and isinstance(stored, list):
        return len(desired) == len(stored) and all(
            recorded(d, s, environ) for d, s in zip(desired, stored, strict=True)
        )
    return same(desired, stored)


def kept_as_sent(
    sent: Mapping[str, Any], live: Mapping[str, Any], sent_json: str | None = None
) -> list[str]:
    """Pointers of non-secret values the API did not keep as sent (read-back check).
    `sent_json`: `sent` as json.dumps wrote it, if at hand."""
    # the usual answer, none, from C-speed encodes (the walk encoded each level): first
    # as json.dumps writes them (an API that keeps the key order), then key order aside
    kept = _as_kept(sent, live)
    if sent_json is not None and json.dumps(kept) == sent_json:
        return []
    if canonical(sent) == canonical(kept):
        return []
    return _lost(sent, live, "")


def _as_kept(sent: Mapping[str, Any], live: Mapping[str, Any]) -> dict[str, Any]:
    """What `live` holds at the keys of `sent`, object levels alike, with each secret
    sent taken as kept (the API masks it): equal to `sent` when all was kept.  A secret
    inside a list is not: the walk (`_lost`) decides those."""
    out: dict[str, Any] = {}
    for key, value in sent.items():
        got = live.get(key, _MISSING)
        if got is _MISSING:
            continue
        if _secret_string(value):
            out[key] = value
        elif isinstance(value, Mapping) and isinstance(got, Mapping):
            out[key] = _as_kept(value, got)
        else:
            out[key] = got
    return out


def _lost(sent: Mapping[str, Any], live: Mapping[str, Any], ptr: str) -> list[str]:
    lost: list[str] = []
    for key, value in sent.items():
        p = pointer(ptr, key)
        if _secret_string(value):
            continue
        got = live.get(key, _MISSING)
        comparable = got is not _MISSING and isinstance(value, (dict, list))
        if comparable and canonical(value) == canonical(got):
            continue  # kept: one C-speed comparison instead of a walk
        if isinstance(value, Mapping) and isinstance(got, Mapping):
            lost.extend(_lost(value, got, p))
        elif got is _MISSING or not _same_but_secrets(value, got):
            lost.append(p)
    return lost


def _same_but_secrets(sent: Any, got: Any) -> bool:
    """`same`, except that a secret (e.g. inside a list) matches whatever was read back:
    the API returns it resolved or masked, never as the placeholder that was compiled."""
    if _secret_string(sent):
        return isinstance(got, str)
    if isinstance(sent, dict) and isinstance(got, dict):
        return sent.keys() == got.keys() and all(_same_but_secrets(sent[k], got[k]) for k in sent)
    if isinstance(sent, list) and isinstance(got, list):
        return len(sent) == len(got) and all(
            _same_but_secrets(x, y) for x, y in zip(sent, got, strict=True)
        )
    return same(sent, got)
