"""Plan writers: text for terminals, Markdown for PR comments, JSON for machines."""

from __future__ import annotations

import difflib
import json
import re
import textwrap
from typing import Any

from personactl import refs, sensitive
from personactl.deploy.diff import pointer
from personactl.deploy.plan import Change, Plan
from personactl.kinds import personas_kind
from personactl.output import PlanFormat, listing, to_json

_SIGNS = {"create": "+", "update": "~", "delete": "-"}


def summary_line(plan: Plan) -> str:
    s = plan.summary()
    return f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete."


def _shown(value: Any) -> Any:
    """A value as people see it: secrets `(sensitive)`, ids of resources the same apply
    creates `(known after apply)`."""
    return refs.shown(sensitive.mask(value))


def _value(value: Any) -> str:
    return json.dumps(_shown(value), ensure_ascii=False, sort_keys=True)


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value


def _structured(value: Any) -> bool:
    """A list or mapping too long for one line (tools, perception queries): a line diff."""
    return isinstance(value, (list, dict)) and len(_value(value)) > 60


def _lines_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(_shown(value), ensure_ascii=False, sort_keys=True, indent=2)


def _line_diff(before: str, after: str) -> list[str]:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2)
    return [line for line in lines if not line.startswith(("---", "+++"))]


# A single-line string longer than this (a `>-` folded prompt) changes as a word diff.
WORD_DIFF_AFTER = 80
WIDTH = 100  # of a plan line, indentation included


def _long_line(value: Any) -> bool:
    return isinstance(value, str) and "\n" not in value and len(value) > WORD_DIFF_AFTER


# Below this share of words in common, a word diff is noise ("the" kept, all else
# changed): the two strings are shown as a line diff of one line each.
WORD_DIFF_SIMILARITY = 0.5


def _word_diff(before: str, after: str) -> list[str] | None:
    """Words removed `[-old-]` and added `{+new+}` (git --word-diff), wrapped; None
    when the strings have too little in common for it to help."""
    old, new = before.split(), after.split()
    words: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    if matcher.ratio() < WORD_DIFF_SIMILARITY:
        return None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            words += old[i1:i2]
            continue
        if i2 > i1:
            words.append("[-" + " ".join(old[i1:i2]) + "-]")
        if j2 > j1:
            words.append("{+" + " ".join(new[j1:j2]) + "+}")
    # indented 10 in a text plan: the change's 4, the field's 4, and 2 under its `~`
    return textwrap.wrap(
        " ".join(words), WIDTH - 10, break_long_words=False, break_on_hyphens=False
    )


def leaves(path: str, value: Any) -> list[tuple[str, Any]]:
    """A whole value shown field by field: nested mappings flattened to pointers."""
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in leaves(pointer(path, k), v)]
    return [(path, value)]


# A field's value on the side that does not have the field (`field_lines`).
ABSENT: Any = object()


def field_lines(path: str, before: Any, after: Any, note: str = "") -> list[str]:
    """One field that differs, as plans and environment diffs show it: `+` added (`before`
    is ABSENT), `-` removed (`after` is ABSENT), `~` changed, with a line diff for prompts
    and long structures instead of two walls of text.  Values are masked here."""
    before, after = _shown(before), _shown(after)
    if after is ABSENT:
        return [f"- {path}: {_value(before)}{note}"]
    if before is ABSENT:
        if _multiline(after):
            return [f"+ {path}:{note}", *(f"    + {line}" for line in after.splitlines())]
        return [f"+ {path}: {_value(after)}{note}"]
    if any(f(v) for f in (_multiline, _structured) for v in (after, before)):
        diff = _line_diff(_lines_of(before), _lines_of(after))
        return [f"~ {path}:{note}", *(f"    {line}" for line in diff)]
    if (
        isinstance(before, str)
        and isinstance(after, str)
        and (_long_line(before) or _long_line(after))
    ):
        words = _word_diff(before, after)
        if words is None:
            return [f"~ {path}:{note}", *(f"    {line}" for line in _line_diff(before, after))]
        return [f"~ {path}:{note}", *(f"      {line}" for line in words)]
    return [f"~ {path}: {_value(before)} -> {_value(after)}{note}"]


def body_lines(body: Any, path: str = "") -> list[str]:
    """A whole new resource (or new field), one `+` line (or block) per leaf."""
    return [line for p, v in leaves(path, body) for line in field_lines(p, ABSENT, v)]


def _op_lines(change: Change) -> list[str]:
    out: list[str] = []
    for op in change.ops:
        path = op["path"]
        if change.action == "create":
            out.extend(body_lines(op["value"], path))
            continue
        drift = "  (changed outside personactl)" if path in change.drift else ""
        before = change.before.get(path)
        if before == sensitive.MASK and op["op"] != "remove" and _shown(op["value"]) == before:
            # two masks say nothing by themselves: why the field is in the plan
            unknown = path in change.unrecorded
            drift += "  # not known after import" if unknown else "  # secret value changed"
        if op["op"] == "add" and before is None:
            before = ABSENT
        after = ABSENT if op["op"] == "remove" else op["value"]
        out.extend(field_lines(path, before, after, drift))
    return out


def _heading(change: Change, command: str) -> str:
    pid = f" ({change.id})" if change.id else ""
    note = ""
    if change.pending:
        note = "  (an interrupted apply sent this create: apply looks for it before creating)"
    elif change.recreate:
        note = "  (deleted outside personactl; will be recreated)"
    elif change.drift:
        note = "  (drift: deployed persona changed outside personactl)"
    heading = f"{_SIGNS[change.action]} {change.action} {change.address}{pid}{note}"
    return "\n    note: ".join([heading, *notes(change, command)])


def notes(change: Change, command: str = "personactl") -> list[str]:
    """What a change's author may rather do: adopt a same-named resource, keep a moved one."""
    out = []
    if change.adoptable:
        out.append(
            f"{change.adoptable} is deployed with the same name and not managed; "
            f"`{command} import {change.address} {change.adoptable}` adopts it instead"
        )
    if change.moved_from:
        out.append(
            f"same content as {change.moved_from}, which left the configuration (renamed?): "
            f"`{command} state mv {change.moved_from} {change.address}` keeps the deployed "
            "resource instead of deleting and recreating it"
        )
    return out


# Past this many changes the text plan is a table (address, action, changed fields);
# `--full` shows every field diff.  The JSON and Markdown plans always keep everything.
SUMMARY_AFTER = 50


def _changed_fields(change: Change) -> str:
    if change.action == "delete":
        return "-"
    tops = dict.fromkeys(op["path"].split("/")[1] for op in change.ops)
    shown = ", ".join(list(tops)[:4])
    return shown + (f" and {len(tops) - 4} more" if len(tops) > 4 else "")


def _table(plan: Plan) -> list[str]:
    width = max(len("address"), *(len(c.address) for c in plan.changes))
    lines = [f"  {'address'.ljust(width)}  action  changed fields"]
    for c in plan.changes:
        row = f"{_SIGNS[c.action]} {c.address.ljust(width)}  {c.action:<6}  {_changed_fields(c)}"
        lines.append(row)
    full = f"`{plan.command} plan --full` shows every field"
    lines += ["", f"({len(plan.changes)} changes: {full})", ""]
    return lines


def text(plan: Plan, color: bool = False, *, full: bool = False) -> str:
    api = f", api {plan.api}" if plan.api != "personas" else ""
    lines = [f"Environment {plan.environment} (backend {plan.backend}{api})", ""]
    if len(plan.changes) > SUMMARY_AFTER and not full:
        lines += _table(plan)
    else:
        for change in plan.changes:
            lines += _heading(change, plan.command).split("\n")
            lines.extend(f"    {line}" for line in _op_lines(change))
            lines.append("")
    if plan.unmanaged_deletes:
        lines.append(kept_line(plan.unmanaged_deletes))
    elif not plan.changes:
        # never above the kept line: a plan that keeps resources is not "no changes"
        lines.append("No changes. Deployed personas match the configuration.")
        lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(_paint(line) if color else line for line in lines) + "\n"


def kept_line(addresses: list[str]) -> str:
    n = len(addresses)
    verb = "is" if n == 1 else "are"
    return (
        f"{n} managed {'resource' if n == 1 else 'resources'} {verb} no longer in the "
        f"configuration and {verb} kept (use --prune to delete): {listing(addresses)}"
    )


_PAINT = {"+": "green", "-": "red", "~": "yellow"}
_WORDS = re.compile(r"\[-.*?-\]|\{\+.*?\+\}")


def _paint(line: str) -> str:
    """A text plan line coloured by its sign (`+` green, `-` red, `~` yellow): a change's
    heading, a field, or a line of a line diff; words of a word diff by their marks."""
    import click

    # the sign's column: a change's heading 0, its fields 4, their line diffs 8
    sign = line[8:9] if line.startswith(" " * 8) else line[4:5] if line[:4] == " " * 4 else line[:1]
    if sign in _PAINT:
        return click.style(line, fg=_PAINT[sign])
    return _WORDS.sub(
        lambda m: click.style(m.group(), fg="red" if m.group().startswith("[") else "green"), line
    )


def _field_count(change: Change) -> int | str:
    """Fields changed, counted as the diff block shows them: one per leaf (create) or op."""
    if change.action == "delete":
        return "-"
    if change.action == "create":
        return sum(len(leaves(op["path"], op["value"])) for op in change.ops)
    return len(change.ops)


def _as_diff(lines: list[str]) -> list[str]:
    """Plan lines for a ```diff block: the sign first, since an indented + or - renders as
    an unchanged line; the indentation goes after it."""
    out: list[str] = []
    for line in lines:
        inner = line[4:] if line.startswith("    ") else ""
        if not inner:
            out.append(line)
        elif inner.startswith("@@"):
            out.append(inner)
        else:
            out.append(f"{inner[0]}   {inner[1:]}")
    return out


def markdown(plan: Plan) -> str:
    s = plan.summary()
    lines = [
        f"### personactl plan: `{plan.environment}`",
        "",
        f"**{s['create']}** to create, **{s['update']}** to update, **{s['delete']}** to delete.",
        "",
    ]
    if plan.warnings:
        lines += ["**Warnings**", "", *(f"- {w}" for w in plan.warnings), ""]
    if plan.changes:
        id_field = personas_kind(plan.api).id_field
        lines += [f"| | address | {id_field} | fields |", "|---|---|---|---|"]
        for c in plan.changes:
            fields = _field_count(c)
            drift = (
                " (recreate: deleted outside personactl)"
                if c.recreate
                else (" (drift)" if c.drift else "")
            )
            lines.append(
                f"| {_SIGNS[c.action]} | `{c.address}`{drift} | {c.id or '(new)'} | {fields} |"
            )
        lines.append("")
        said = [f"> {note}" for c in plan.changes for note in notes(c, plan.command)]
        lines += [*said, ""] if said else []
        for c in plan.changes:
            if c.action == "delete":
                continue
            lines += [
                f"<details><summary>{_SIGNS[c.action]} {c.action} <code>{c.address}"
                "</code></summary>",
                "",
                "```diff",
                *_as_diff(_op_lines(c)),
                "```",
                "",
                "</details>",
                "",
            ]
    elif not plan.unmanaged_deletes:
        lines += ["No changes.", ""]
    if plan.unmanaged_deletes:
        lines += [
            "Kept (no longer in configuration, no `--prune`): "
            + listing([f"`{a}`" for a in plan.unmanaged_deletes]),
            "",
        ]
    return "\n".join(lines)


def as_json(plan: Plan) -> str:
    return to_json(plan.data())


def render(plan: Plan, fmt: PlanFormat, *, color: bool = False, full: bool = False) -> str:
    if fmt == "json":
        return as_json(plan)
    if fmt == "markdown":
        return markdown(plan)
    return text(plan, color=color, full=full)
