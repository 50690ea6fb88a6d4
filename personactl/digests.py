"""Digests of secret values, as state and plan files keep them (never the values).

A digest is `scrypt$n=16384,r=8,p=1$SALT$HASH`: a deliberately slow key derivation
(~30-50 ms and 16 MiB each), so a state or plan file does not make a weak secret
guessable.  Derivations are memoised per (value, salt, parameters) and each distinct
value gets one salt per run (the salt of its state digest, once one verified), so 900
personas sharing one key cost one derivation per run.

Digests written before scrypt (`salted-sha256:SALT:HEX`) are still verified with
their own algorithm, so upgrading shows no false update; new digests are scrypt.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

SCHEME = "scrypt$"
_LEGACY = "salted-sha256:"
_N, _R, _P = 2**14, 8, 1
_PARAMS = f"n={_N},r={_R},p={_P}"
# Enough for the parameters above (128 * r * n = 16 MiB) with headroom; a stored
# digest asking for more is not ours and does not verify.
_MAXMEM = 64 * 1024 * 1024

_run_salts: dict[str, str] = {}  # value -> its salt in this process
# Single flight per derivation: threads asking for one derivation at once (16 parallel
# creates of personas sharing a key, in `personactl serve`) wait for the first and then
# hit the memo, instead of running 16 scrypts of 16 MiB side by side; derivations of
# different values or salts run at once, one per core (scrypt releases the GIL; more
# at once would only add 16 MiB each).
_flights_lock = threading.Lock()
_flights: dict[tuple[str, str, int, int, int], threading.Lock] = {}  # derivations under way
_cores = threading.BoundedSemaphore(os.cpu_count() or 1)


_derived: dict[tuple[str, str, int, int, int], str] = {}  # read without a lock: the hot path
_DERIVED_MAX = 4096


def _derive_once(value: str, salt: str, n: int, r: int, p: int) -> str:
    key = (value, salt, n, r, p)
    done = _derived.get(key)
    if done is not None:
        return done
    with _flights_lock:
        flight = _flights.setdefault(key, threading.Lock())
    try:
        with flight, _cores:
            done = derive(value, salt, n, r, p)
        if len(_derived) < _DERIVED_MAX:
            _derived[key] = done
        return done
    finally:
        with _flights_lock:  # done: later callers hit the memo (and the table stays small)
            if _flights.get(key) is flight:
                del _flights[key]


def digest(value: str, salt: str | None = None) -> str:
    """The scrypt digest of `value` (with this run's salt for it unless given)."""
    if salt is None:
        salt = _run_salts.get(value) or _run_salts.setdefault(value, secrets.token_hex(16))
    return _derive_once(value, salt, _N, _R, _P)


def _memoised(value: str) -> bool:
    salt = _run_salts.get(value)
    return salt is not None and (value, salt, _N, _R, _P) in _derived


def digest_all(values: Iterable[str]) -> None:
    """Derive the digests of several values at once, one thread each (as many at a time
    as there are cores), for a caller about to ask `digest` for each: a body with two
    new keys waits for one scrypt instead of two in a row."""
    distinct = [v for v in dict.fromkeys(values) if not _memoised(v)]
    if len(distinct) < 2:
        return
    with ThreadPoolExecutor(len(distinct), thread_name_prefix="personactl-digest") as pool:
        list(pool.map(digest, distinct))


@functools.lru_cache(maxsize=4096)
def derive(value: str, salt: str, n: int, r: int, p: int) -> str:
    """One scrypt derivation, memoised (its `cache_info()` counts derivations)."""
    key = hashlib.scrypt(
        value.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32
    )
    return f"{SCHEME}n={n},r={r},p={p}${salt}${key.hex()}"


# (value, digest) pairs found to match: a plan verifies the same key's digest once per
# persona sharing it (thousands), each a parse, a lock and a compare
_verified: set[tuple[str, str]] = set()
_VERIFIED_MAX = 4096


def verify(value: str, stored: Any) -> bool:
    """Whether `stored` (either format) is a digest of `value`."""
    if not isinstance(stored, str):
        return False
    if (value, stored) in _verified:
        return True
    if _verify(value, stored):
        if len(_verified) < _VERIFIED_MAX:
            _verified.add((value, stored))
        return True
    return False


def _verify(value: str, stored: str) -> bool:
    if stored.startswith(_LEGACY):
        salt = stored[len(_LEGACY) :].split(":", 1)[0]
        legacy = hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()
        return hmac.compare_digest(f"{_LEGACY}{salt}:{legacy}", stored)
    if not stored.startswith(SCHEME):
        return False
    try:
        params, salt, _hash = stored[len(SCHEME) :].split("$")
        cost = dict(item.split("=", 1) for item in params.split(","))
        again = _derive_once(value, salt, int(cost["n"]), int(cost["r"]), int(cost["p"]))
    except (ValueError, KeyError):  # malformed, or parameters scrypt refuses
        return False
    if not hmac.compare_digest(again, stored):
        return False
    if is_current(stored):  # new digests of this value reuse its salt: no second derivation
        _run_salts.setdefault(value, salt)
    return True


def is_digest(value: Any) -> bool:
    return isinstance(value, str) and value.startswith((SCHEME, _LEGACY))


def is_current(stored: Any) -> bool:
    """A digest in today's format and cost (older ones are rewritten when written again)."""
    return isinstance(stored, str) and stored.startswith(f"{SCHEME}{_PARAMS}$")
