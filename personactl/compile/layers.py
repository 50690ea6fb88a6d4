"""Layering: deep merge with positions kept, as DESIGN §2 "Layering rules" says.

Mappings merge deeply; scalars and lists replace; an explicit null removes the
key; a list tagged `!append` extends the inherited list.  Inputs are never
mutated: bases are shared by many personas, and a subtree that layering would copy
unchanged (no null, no `!append` inside) is shared rather than copied.
"""

from __future__ import annotations

from typing import Any

from personactl.compile.source import PList, PMap


def merge(base: Any, over: Any) -> Any:
    """`over` layered on top of `base`."""
    if isinstance(base, dict) and isinstance(over, dict):
        return _merge_maps(base, over)
    if isinstance(over, PList) and over.append_tag:
        return _append(base, over)
    return strip(over)


def merge_all(layers: list[Any]) -> PMap:
    out: Any = PMap()
    for layer in layers:
        if layer is not None:
            out = merge(out, layer)
    return out if isinstance(out, PMap) else PMap()


def _merge_maps(base: dict[str, Any], over: dict[str, Any]) -> PMap:
    out = PMap(getattr(over, "loc", None) or getattr(base, "loc", None))
    out.update(base)  # the base's entries and positions in bulk: most keys are inherited
    if isinstance(base, PMap):
        out.key_locs.update(base.key_locs)
        out.val_locs.update(base.val_locs)
    over_keys = getattr(over, "key_locs", {})
    over_vals = getattr(over, "val_locs", {})
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
            continue
        merged = merge(out.get(key), value)
        out.put(key, merged, over_keys.get(key), over_vals.get(key))
    return out


def _append(base: Any, over: PList) -> PList:
    out = PList(over.loc)
    if isinstance(base, list):
        base_locs = getattr(base, "item_locs", [None] * len(base))
        for item, loc in zip(base, base_locs, strict=False):
            out.add(item, loc)
    for item, loc in zip(over, over.item_locs, strict=True):
        out.add(strip(item), loc)
    return out


def strip(value: Any) -> Any:
    """A value as it ends up in the result: `!append` resolved, nulls in maps dropped."""
    if isinstance(value, PList) and value.append_tag:
        return _append(None, value)
    if isinstance(value, PMap) and _as_is(value):
        return value
    if isinstance(value, dict):
        return _merge_maps({}, value)
    return value


def _as_is(value: PMap) -> bool:
    """Whether strip() would return an equal copy of `value` (positions included)."""
    if value.layered is None:
        value.layered = all(
            item is not None
            and not (isinstance(item, PList) and item.append_tag)
            and (not isinstance(item, dict) or (isinstance(item, PMap) and _as_is(item)))
            for item in value.values()
        )
    return value.layered
