"""Sensitive values: placeholders in compiled data, real values only on the wire.

A compiled payload holds `\\x00personactl-secret:NAME\\x00` where a template
called `secret('NAME')`.  Display code masks such strings as `(sensitive)`;
state and plans keep salted hashes; `resolve` substitutes the environment's
values right before a request is sent.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "(sensitive)"
_PREFIX = "\x00personactl-secret:"
_PLACEHOLDER = re.compile("\x00personactl-secret:([^\x00]*)\x00")


class SecretError(LookupError):
    """`resolve` needed secrets it cannot send: not set, or holding a line break (a user
    error: the CLI prints it as one line naming them, never a value; plan/apply check
    every name before they start)."""

    def __init__(self, problems: Mapping[str, tuple[str, str]]) -> None:
        self.names = sorted(problems)
        whys = sorted({why for why, _hint in problems.values()})
        if whys == [_UNSET]:
            text = (
                f"secret {', '.join(self.names)} is not set in the environment "
                "(hint: export it before plan/apply; validate and render work without it)"
            )
        else:
            text = "; ".join(
                f"secret {name} {why} (hint: {hint})" for name, (why, hint) in problems.items()
            )
        super().__init__(text)


_UNSET = "is not set"


def unusable(name: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """Why the secret `name` cannot be sent, and a hint; None when it can."""
    value = environ.get(name)
    if value is None:
        return _UNSET, f"export {name}=... (plan and apply need secret values)"
    if any(c in value for c in _LINE_BREAKS):
        return (
            "contains a line break (CR or LF), which is never sent",
            f"strip it, e.g. export {name}=\"$(tr -d '\\r\\n' < FILE)\"",
        )
    return None


def placeholder(name: str) -> str:
    return f"{_PREFIX}{name}\x00"


# The same placeholders as json.dumps writes them: one C-speed encode answers
# "where are the secrets" for a whole payload without a Python-level walk.  A name is
# read escape by escape (`K\u00c9Y` is KÉY; only the NUL that ends it is `\u0000`).
def encoded_placeholders(tag: str) -> re.Pattern[str]:
    """The placeholders `\\x00personactl-TAG:NAME\\x00` as json.dumps writes them, the
    name captured as written (`json_unescaped` reads it)."""
    return re.compile(
        rf"\\u0000personactl-{tag}:((?:[^\\]|\\[^u]|\\u(?!0000)[0-9a-fA-F]{{4}})*)\\u0000"
    )


def json_unescaped(raw: str) -> str:
    """A name captured from JSON text, its escapes read."""
    return str(json.loads(f'"{raw}"')) if "\\" in raw else raw


_ENCODED = encoded_placeholders("secret")
_ENCODED_PREFIX = "\\u0000personactl-secret:"


def is_placeholder(value: object) -> bool:
    """Whether `value` is a string that starts as a secret() placeholder: a value that
    checks of its content (a URL's scheme, a name's pattern) cannot see."""
    return isinstance(value, str) and value.startswith(_PREFIX)


def contains(value: Any) -> bool:
    """Whether any string inside `value` holds a secret placeholder."""
    if isinstance(value, str):
        return _PREFIX in value
    return names(value) != set()


def names(value: Any) -> set[str]:
    """Every secret name referenced anywhere in a payload."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    try:
        return names_in_json(json.dumps(value))
    except (TypeError, ValueError):  # not JSON data: walk it
        found: set[str] = set()
        _walk_strings(value, lambda s: found.update(_PLACEHOLDER.findall(s)))
        return found


def names_in_json(text: str) -> set[str]:
    """Every secret name in a payload encoded by `json.dumps` (for callers that need its
    references too, refs.targets_in_json: one encode for both)."""
    return {json_unescaped(raw) for raw in _ENCODED.findall(text)}


def placeholders_visible(text: str) -> bool:
    """Whether every placeholder in `text` (as json.dumps writes a payload) can be read
    there (not when a name holds a NUL, which ends a placeholder)."""
    return text.count(_ENCODED_PREFIX) == len(_ENCODED.findall(text))


def secret_literals(text: str) -> Iterator[tuple[int, int]]:
    """Where the string values holding a placeholder are in `text`, a payload as
    `json.dumps` writes it: (start, end) of each literal, its quotes included, in
    order.  Keys are left out (a secret is only ever a value).  Complete only when
    `placeholders_visible(text)`."""
    end = 0
    for match in _ENCODED.finditer(text):
        if match.start() < end:
            continue  # a second placeholder in the literal just found
        start = text.rfind('"', 0, match.start())
        while _escaped(text, start):
            start = text.rfind('"', 0, start)
        end = text.find('"', match.end())
        while _escaped(text, end):
            end = text.find('"', end + 1)
        end += 1
        if not text.startswith(":", end):
            yield start, end


def _escaped(text: str, quote_at: int) -> bool:
    """Whether the quote at `quote_at` is escaped: an odd run of backslashes before it."""
    run = 0
    while text[quote_at - 1 - run] == "\\":
        run += 1
    return run % 2 == 1


# Values this process has resolved for a request: an API may echo a request body
# back in an error, and no message personactl prints may carry one, in any encoding.
_MIN_REDACTED = 4  # shorter values would blank out ordinary words
# An echo cut at N characters ends in a prefix of the value: from this length on,
# a prefix is masked too (shorter ones are too common to tell from ordinary text).
MIN_PREFIX = 8
# Line breaks never go on the wire: in a header they fail in the HTTP client (which
# prints the value as bytes), in a body they are almost always a stray `\n` from a file.
_LINE_BREAKS = ("\r", "\n")


def _utf8(text: str) -> bytes:
    # an environment value may hold surrogates (undecodable bytes): never an error here
    return text.encode("utf-8", "surrogatepass")


def _escapes(text: str) -> set[str]:
    """`text` as it appears in a message that quoted it: as is, its bytes or str repr,
    JSON-escaped (ASCII or not), URL-quoted (path, component or form style)."""
    raw = _utf8(text)
    return {
        text,
        repr(raw)[2:-1],
        repr(text)[1:-1],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        quote(raw),
        quote(raw, safe=""),
        quote_plus(raw),
    }


def representations(value: str) -> set[str]:
    """Every form `value` takes in a message: its escapes (`_escapes`), also of its JSON
    form (a request body echoed whole), and the stable inner part of the base64 of each
    (standard and URL-safe) at each of the three alignments inside a larger blob."""
    texts = {
        shown
        for inner in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1])
        for shown in _escapes(inner)
    }
    forms = set(texts)
    for text in texts:
        data = _utf8(text)
        for offset in range(3):
            # base64 char i carries bits 6i..6i+6: keep those made of the value's bits only
            first = -(-8 * offset // 6)
            last = 8 * (offset + len(data)) // 6
            encoded = base64.b64encode(bytes(offset) + data).decode()[first:last]
            forms.update((encoded, encoded.replace("+", "-").replace("/", "_")))
    return {form for form in forms if len(form) >= _MIN_REDACTED}


class _Redactor:
    """The resolved values' representations, behind one regex of their heads (the first
    MIN_PREFIX characters): a hit is extended to the longest representation it starts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._by_head: dict[str, list[str]] = {}
        self._pattern: re.Pattern[str] | None = None
        self.longest = 0  # the longest representation: what a stream must hold back

    def add(self, value: str) -> None:
        if len(value) < _MIN_REDACTED or value in self._values:  # the usual case: known
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            for form in representations(value):
                head = form[:MIN_PREFIX]
                forms = self._by_head.setdefault(head, [])
                if form not in forms:
                    forms.append(form)
                self.longest = max(self.longest, len(form))
            heads = sorted(self._by_head, key=len, reverse=True)  # longest alternative first
            self._pattern = re.compile("|".join(map(re.escape, heads)))

    def values(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._values)

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """(start, end) of each masked stretch of `text`, left to right, not overlapping."""
        pattern = self._pattern
        if pattern is None:
            return
        pos = 0
        while (found := pattern.search(text, pos)) is not None:
            start = found.start()
            end = max(
                start + len(os.path.commonprefix([form, text[start : start + len(form)]]))
                for form in self._by_head[found.group()]
            )
            yield start, end
            pos = end

    def sub(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        for start, end in self.spans(text):
            out += (text[pos:start], MASK)
            pos = end
        return "".join(out) + text[pos:] if out else text


_REDACTOR = _Redactor()


def remember(value: str) -> None:
    """From now on `scrub` masks `value` (in every representation) in any message."""
    _REDACTOR.add(value)


def carries_secret(text: str) -> bool:
    """Whether `text` holds a value resolved for a request (as sent, not escaped)."""
    return any(value in text for value in _REDACTOR.values())


def scrub(text: str) -> str:
    """Message text with secret placeholders, and any secret value sent so far, masked."""
    if _PREFIX in text:
        text = _PLACEHOLDER.sub(MASK, text)
    return _REDACTOR.sub(text)


class StreamScrubber:
    """`scrub` for text that arrives in pieces: a secret split across pieces is masked,
    and a stretch that may still grow into a longer echo waits for the next piece."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> str:
        """The part of everything fed so far that can be shown now, masked."""
        raw = self._pending + text
        # a value not yet recognised starts within the last (longest - 1) characters
        cut = max(len(raw) - _REDACTOR.longest + 1, 0)
        for start, end in _REDACTOR.spans(raw):
            if end > cut:  # a stretch running into what is held back may grow
                cut = min(cut, start)
                break
        self._pending = raw[cut:]
        return scrub(raw[:cut])

    def end(self) -> str:
        rest, self._pending = self._pending, ""
        return scrub(rest)


def mask(value: Any) -> Any:
    """A copy safe to show or store: every string touched by a secret becomes (sensitive)."""
    if isinstance(value, str):
        return MASK if _PREFIX in value else value
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def resolve(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """A copy with real secret values, for the request body only; every value resolved
    is remembered for `scrub`.  A secret that is not set or holds a line break is an error."""
    source = os.environ if environ is None else environ
    encoded = _json_or_none(value)
    if encoded is not None:
        filled = resolve_json(encoded, source)
        if filled is not None:
            return json.loads(filled)  # one C-speed decode makes the copy, not a walk
    _check_usable(names(value), source)

    def sub(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: _value_of(m.group(1), source), text)

    return map_strings(value, sub, _PREFIX)


def resolve_json(encoded: str, environ: Mapping[str, str] | None = None) -> str | None:
    """`resolve` on a payload's JSON text (as json.dumps writes it): the text with each
    placeholder replaced by its value, JSON-escaped.  None when a placeholder cannot be
    read in the text (`placeholders_visible`): walk instead."""
    source = os.environ if environ is None else environ
    _check_usable(names_in_json(encoded), source)
    if not placeholders_visible(encoded):
        return None
    return _ENCODED.sub(
        lambda m: json.dumps(_value_of(json_unescaped(m.group(1)), source))[1:-1], encoded
    )


def _check_usable(found: set[str], environ: Mapping[str, str]) -> None:
    problems = {n: why for n in sorted(found) if (why := unusable(n, environ))}
    if problems:
        raise SecretError(problems)


def _value_of(name: str, environ: Mapping[str, str]) -> str:
    value = environ[name]
    remember(value)
    return value


def _json_or_none(value: Any) -> str | None:
    """`value` (an object or array) as `json.dumps` writes it; None for anything else."""
    if not isinstance(value, (dict, list)):
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError):  # not JSON data (a sentinel inside): walked instead
        return None


def map_strings(value: Any, fn: Callable[[str], str], marker: str) -> Any:
    """A copy of JSON-like `value` with `fn` applied to each string holding `marker` (the
    placeholders' prefix: here for secrets, in refs.py for references)."""
    if isinstance(value, str):
        return fn(value) if marker in value else value
    if isinstance(value, dict):
        return {k: map_strings(v, fn, marker) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, fn, marker) for v in value]
    return value


def _walk_strings(value: Any, fn: Any) -> None:
    if isinstance(value, str):
        if _PREFIX in value:
            fn(value)
    elif isinstance(value, dict):
        for v in value.values():
            _walk_strings(v, fn)
    elif isinstance(value, list):
        for v in value:
            _walk_strings(v, fn)
