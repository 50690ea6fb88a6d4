"""Apply a plan: bounded parallel API calls, every success journaled as it happens."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from personactl import secrets
from personactl.backends.base import Backend, CreateOutcomeUnknown
from personactl.diff import fingerprint, kept_as_sent, same
from personactl.digests import verify
from personactl.errors import ApiError, Problem, StalePlan, UserError
from personactl.plan import Change, Plan
from personactl.state import Recorder, Resource, State, now

Report = Callable[[str], None]
# Allowed difference between this machine's clock and the API's when matching created_at.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass
class Outcome:
    done: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # interrupted (see personactl.interrupts): never started, or abandoned while in flight
    not_started: list[Change] = field(default_factory=list)
    abandoned: list[Change] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return bool(self.not_started or self.abandoned)


class _NotStarted(Exception):
    """A change skipped because apply was asked to stop before it began."""


def live_by_id(backend: Backend) -> dict[str, dict[str, Any]]:
    """Every deployed persona of the account, from the paginated list (no per-persona GET)."""
    return {p["persona_id"]: p for p in backend.list_personas() if p.get("persona_id")}


def check_fresh(
    plan: Plan, state: State, live: Mapping[str, Mapping[str, Any]], environ: Mapping[str, str]
) -> None:
    """Refuse a saved plan if anything it touches moved since it was made."""
    problems: list[Problem] = []

    def stale(address: str, why: str) -> None:
        problems.append(Problem(None, f"{address}: {why} since the plan was made"))

    for change in plan.changes:
        resource = state.resources.get(change.address)
        if change.action == "create":
            if resource is not None and resource.persona_id in live:
                stale(change.address, f"was created as {resource.persona_id}")
        else:
            if resource is None or resource.persona_id != change.persona_id:
                stale(change.address, "its state entry changed")
            elif change.fingerprint is not None:
                deployed = live.get(change.persona_id or "")
                if deployed is None:
                    stale(change.address, "the deployed persona was deleted")
                elif fingerprint(deployed) != change.fingerprint:
                    stale(change.address, "the deployed persona changed")
        for name, stored in change.secret_digests.items():
            value = environ.get(name)
            if value is None:
                problems.append(Problem(None, f"{change.address}: secret {name} is not set"))
            elif not verify(value, stored):
                stale(change.address, f"secret {name} changed")
    if problems:
        raise StalePlanErrors(problems)


class StalePlanErrors(StalePlan):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("plan is stale")
        self._problems = [
            *problems,
            Problem(
                None,
                "refusing to apply a stale plan; nothing was changed",
                "run `personactl plan` again",
            ),
        ]

    @property
    def problems(self) -> list[Problem]:
        return self._problems


def _create(
    change: Change, backend: Backend, recorder: Recorder, environ: Mapping[str, str]
) -> tuple[str, dict[str, Any]]:
    """The new persona's id and the payload to record as applied."""
    body = change.body or {}
    applied = change.applied or {}
    earlier = recorder.pending(change.address)
    if earlier is not None:
        # An earlier apply sent this create and died before recording the answer.
        adopted = _find_created(earlier, backend, recorder)
        if adopted is not None:
            # Created from an older configuration: record nothing as applied, so the
            # next plan compares every declared value (secrets included) with it.
            return adopted, applied if same(earlier, body) else {}
    recorder.creating(change.address, body)
    sent = secrets.resolve(body, environ)
    sent_at = datetime.now(timezone.utc)
    maybe_created = earlier is not None
    for _attempt in range(3):
        try:
            return str(backend.create_persona(sent)["persona_id"]), applied
        except CreateOutcomeUnknown:
            maybe_created = True
            # The create may have happened: look for it before sending it again.
            adopted = _find_created(body, backend, recorder, sent_at)
            if adopted is not None:
                return adopted, applied
        except ApiError:
            if not maybe_created:  # refused (4xx, or 429s to the end): nothing was made
                recorder.not_created(change.address)
            raise
    raise ApiError(f"creating {change.address} failed repeatedly with no response")


def _find_created(
    body: Mapping[str, Any],
    backend: Backend,
    recorder: Recorder,
    sent_after: datetime | None = None,
) -> str | None:
    """An unmanaged persona matching what was sent, claimed so no other create adopts it.

    First one equal in every non-secret field sent; failing that (an API that rewrote a
    value on the way in), the only persona of that name created since `sent_after`."""
    recent: list[str] = []
    for persona in backend.list_personas():
        pid = persona.get("persona_id")
        if not pid:
            continue
        if not kept_as_sent(body, persona):
            if recorder.claim(str(pid)):
                return str(pid)
        elif (
            sent_after is not None
            and persona.get("persona_name") == body.get("persona_name")
            and _created_since(persona, sent_after)
        ):
            recent.append(str(pid))
    if len(recent) == 1 and recorder.claim(recent[0]):
        return recent[0]
    return None


def _created_since(persona: Mapping[str, Any], moment: datetime) -> bool:
    raw = persona.get("created_at")
    try:
        created = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return created >= moment - CLOCK_SKEW


def _run(change: Change, backend: Backend, recorder: Recorder, environ: Mapping[str, str]) -> None:
    if change.action == "create":
        pid, applied = _create(change, backend, recorder, environ)
        recorder.put(change.address, Resource(pid, applied, "", now()))
    elif change.action == "update":
        assert change.persona_id is not None
        backend.patch_persona(change.persona_id, secrets.resolve(change.ops, environ))
        recorder.put(change.address, Resource(change.persona_id, change.applied or {}, "", now()))
    else:
        if change.fingerprint is not None and change.persona_id:
            backend.delete_persona(change.persona_id)
        recorder.remove(change.address)


def execute(
    plan: Plan,
    backend: Backend,
    state: State,
    environ: Mapping[str, str],
    *,
    parallelism: int = 8,
    report: Report | None = None,
    stop: threading.Event | None = None,
) -> Outcome:
    """Run every change; failures are collected (never stop the others) and reported.

    Once `stop` is set no further change starts; those in flight finish and are
    recorded.  A KeyboardInterrupt while waiting abandons the ones still in flight
    (a create among them stays journaled as pending, for the next apply to look for)."""
    outcome = Outcome()
    say = report or (lambda _line: None)
    stop = stop or threading.Event()
    # Unresolvable secrets fail before anything is sent.
    for change in plan.changes:
        secrets.resolve([change.body, change.ops], environ)
    recorder = Recorder(state)
    started: set[int] = set()  # indexes of changes begun
    finished: dict[int, str | None] = {}  # index -> failure message, None when done

    def run(index: int, change: Change) -> None:
        if stop.is_set():
            raise _NotStarted
        started.add(index)
        _run(change, backend, recorder, environ)

    pool = ThreadPoolExecutor(max_workers=max(1, parallelism))
    abandon = False
    try:
        futures = {pool.submit(run, i, c): (i, c) for i, c in enumerate(plan.changes)}
        for future in as_completed(futures):
            index, change = futures[future]
            try:
                future.result()
            except _NotStarted:
                continue
            except UserError as exc:
                finished[index] = exc.problem.message
                say(
                    secrets.scrub(
                        f"{change.address}: {change.action} failed: {exc.problem.message}"
                    )
                )
            else:
                finished[index] = None
                say(f"{change.address}: {change.action}d")
    except KeyboardInterrupt:  # the second interrupt: stop waiting for requests in flight
        abandon = True
    finally:
        pool.shutdown(wait=not abandon, cancel_futures=True)
        for index, change in enumerate(plan.changes):
            if index in finished:
                why = finished[index]
                if why is None:
                    outcome.done.append(change)
                else:
                    outcome.failed.append((change, why))
            elif index in started:
                outcome.abandoned.append(change)
            else:
                outcome.not_started.append(change)
        try:
            if not outcome.interrupted:
                _read_back(outcome, backend, state)
        finally:
            # One state save, after the read-back recorded fingerprints; until it is on
            # disk the journal holds every success, and an interrupted read-back still saves.
            recorder.close()
    return outcome


def _read_back(outcome: Outcome, backend: Backend, state: State) -> None:
    """Re-read what was written (one list pass); warn where the API did not keep a value.
    Fingerprints go into `state`, saved by the caller."""
    written = [c for c in outcome.done if c.action != "delete"]
    if not written:
        return
    try:
        live = live_by_id(backend)
    except ApiError as exc:
        outcome.warnings.append(f"could not read back applied personas: {exc.problem.message}")
        return
    for change in written:
        resource = state.resources.get(change.address)
        deployed = live.get(resource.persona_id) if resource else None
        if resource is None or deployed is None:
            continue
        resource.fingerprint = fingerprint(deployed)
        sent = (change.body or {}) if change.action == "create" else _sent_values(change)
        for path in kept_as_sent(sent, deployed):
            outcome.warnings.append(f"{change.address}: the API did not keep {path} as sent")


def _sent_values(change: Change) -> dict[str, Any]:
    """The subset of the applied payload an update touched, as a nested mapping."""
    out: dict[str, Any] = {}
    for op in change.ops:
        if op["op"] == "remove":
            continue
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = op["value"]
    return out
