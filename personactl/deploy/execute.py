"""Execute a plan: bounded parallel API calls, every success journaled as it happens."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from personactl import refs, sensitive
from personactl.deploy.backends.base import (
    JSON,
    Backend,
    CreateOutcomeUnknown,
    DraftConflict,
    Encoded,
)
from personactl.deploy.diff import fingerprint, kept_as_sent, same
from personactl.deploy.plan import Change, Plan
from personactl.deploy.state import Recorder, Resource, State, now
from personactl.digests import verify
from personactl.errors import ApiError, Problem, StalePlan, UserError
from personactl.kinds import Api, Kind, kind_of

Report = Callable[[str], None]
# Allowed difference between this machine's clock and the API's when matching created_at.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass
class Outcome:
    done: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # interrupted: never started, or abandoned while in flight
    not_started: list[Change] = field(default_factory=list)
    abandoned: list[Change] = field(default_factory=list)
    discarded_drafts: list[str] = field(default_factory=list)  # addresses (--discard-drafts)

    @property
    def interrupted(self) -> bool:
        return bool(self.not_started or self.abandoned)


def live_by_id(
    backend: Backend, kinds: Iterable[Kind], state: State | None = None
) -> dict[str, JSON]:
    """Every deployed resource of these kinds, from the paginated lists (no GET per one);
    those `state` manages are expected there, and their pages asked for at once."""
    managed = Counter(state.kind(a) for a in state.resources) if state is not None else Counter()
    live: dict[str, JSON] = {}
    for kind in dict.fromkeys(kinds):
        for resource in backend.list_all(kind, managed[kind]):
            rid = kind.id_of(resource)
            if rid:
                live[rid] = resource
    return live


def kinds_in(addresses: Iterable[str], api: Api) -> list[Kind]:
    return list(dict.fromkeys(kind_of(a, api) for a in addresses))


def check_fresh(
    plan: Plan,
    state: State,
    live: Mapping[str, Mapping[str, Any]],
    environ: Mapping[str, str],
    plan_command: str = "personactl plan",
) -> None:
    """Refuse a saved plan if anything it touches moved since it was made: as one line
    when the plan itself made those moves (applied before), else one line per reason."""
    if already_applied(plan, state):
        raise UserError(
            "plan already applied: state records every change it makes; nothing was changed",
            hint=f"`{plan_command}` shows what is left to do",
        )
    problems = [
        Problem(None, f"{change.address}: {why}")
        for change in plan.changes
        for why in _staleness(change, state, live, environ)
    ]
    if problems:
        raise StalePlan(problems, plan_command)


def already_applied(plan: Plan, state: State) -> bool:
    """Whether state already records each change of `plan` as it would after applying it:
    created or updated with exactly the plan's recorded payload, deleted gone."""
    if plan.empty:
        return False
    ids = {a: r.id for a, r in state.resources.items()}

    def recorded(change: Change) -> bool:
        resource = state.resources.get(change.address)
        if change.action == "delete":
            return resource is None
        if resource is None or (change.action == "update" and resource.id != change.id):
            return False
        return change.applied is not None and same(
            resource.applied, refs.resolve(change.applied, ids)
        )

    return all(recorded(c) for c in plan.changes)


def _staleness(
    change: Change, state: State, live: Mapping[str, Mapping[str, Any]], environ: Mapping[str, str]
) -> list[str]:
    since = " since the plan was made"
    out: list[str] = []
    resource = state.resources.get(change.address)
    if change.action == "create":
        if resource is not None and resource.id in live:
            out.append(f"was created as {resource.id}{since}")
    elif resource is None or resource.id != change.id:
        out.append(f"its state entry changed{since}")
    elif change.fingerprint is not None:
        deployed = live.get(change.id or "")
        if deployed is None:
            out.append(f"the deployed resource was deleted{since}")
        elif fingerprint(deployed) != change.fingerprint:
            out.append(f"the deployed resource changed{since}")
    for name, stored in change.secret_digests.items():
        value = environ.get(name)
        if value is None:
            out.append(f"secret {name} is not set")
        elif not verify(value, stored):
            out.append(f"secret {name} changed{since}")
    return out


def _create(
    kind: Kind,
    change: Change,
    backend: Backend,
    recorder: Recorder,
    environ: Mapping[str, str],
) -> tuple[str, JSON]:
    """The new resource's id and the payload to record as applied."""
    body = change.body or {}
    applied = change.applied or {}
    earlier = recorder.pending(change.address)
    if earlier is not None:
        # An earlier apply sent this create and died before recording the answer.
        adopted = _find_created(kind, earlier, backend, recorder)
        if adopted is not None:
            # Created from an older configuration: record nothing as applied, so the
            # next plan compares every declared value (secrets included) with it.
            return adopted, applied if same(earlier, body) else {}
    recorder.creating(change.address, body, change.body_json)
    filled = sensitive.resolve_json(change.body_json, environ) if change.body_json else None
    sent = Encoded(filled) if filled is not None else sensitive.resolve(body, environ)
    sent_at = datetime.now(timezone.utc)
    maybe_created = earlier is not None
    for _attempt in range(3):
        try:
            created = kind.id_of(backend.create(kind, sent))
            assert created, "backends answer CreateOutcomeUnknown for a create without an id"
            return created, applied
        except CreateOutcomeUnknown:
            maybe_created = True
            # The create may have happened: look for it before sending it again.
            adopted = _find_created(kind, body, backend, recorder, sent_at)
            if adopted is not None:
                return adopted, applied
        except ApiError:
            if not maybe_created:  # refused (4xx, or 429s to the end): nothing was made
                recorder.not_created(change.address)
            raise
    raise ApiError(f"creating {change.address} failed repeatedly with no response")


def _find_created(
    kind: Kind,
    body: Mapping[str, Any],
    backend: Backend,
    recorder: Recorder,
    sent_after: datetime | None = None,
) -> str | None:
    """The unmanaged resource this create made, claimed so no other create adopts it.

    Within a run (`sent_after` known) only one created since the send may be adopted:
    equal in every non-secret field sent, or else the only one of that name (an API that
    rewrote a value on the way in).  A resource that existed before the send is never
    taken for it.  For a create pending from a killed run, one equal in every field."""
    exact: list[str] = []
    named: list[str] = []
    for resource in backend.list_all(kind):
        rid = kind.id_of(resource)
        if not rid or (sent_after is not None and not _created_since(resource, sent_after)):
            continue
        if not kept_as_sent(body, resource):
            exact.append(str(rid))
        elif sent_after is not None and resource.get(kind.name_field) == body.get(kind.name_field):
            named.append(str(rid))
    for candidates in (exact, named):
        free = [rid for rid in candidates if recorder.claim(rid)]
        if free:
            return free[0]
    return None


def _created_since(resource: Mapping[str, Any], moment: datetime) -> bool:
    raw = resource.get("created_at")
    try:
        created = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return created >= moment - CLOCK_SKEW


def _with_ids(change: Change, recorder: Recorder) -> Change:
    """`change` with the ids of resources created earlier in this apply filled in."""
    if not change.depends_on:
        return change
    ids = recorder.ids()
    missing = sorted(change.depends_on - ids.keys())
    if missing:
        raise UserError(f"{', '.join(missing)} was not applied, so it has no id to reference")
    return replace(
        change,
        ops=refs.resolve(change.ops, ids),
        body=refs.resolve(change.body, ids),
        applied=refs.resolve(change.applied, ids),
        body_json=None,  # the body changed
        applied_json=None,
        references=None,
    )


@dataclass(frozen=True)
class _Run:
    """What every change of one execution shares."""

    backend: Backend
    recorder: Recorder
    environ: Mapping[str, str]
    discard_drafts: bool
    discarded: list[str]  # addresses whose PAL Maker draft a forced update discarded


def _update(change: Change, kind: Kind, run: _Run) -> None:
    assert change.id is not None
    body = sensitive.resolve(_update_body(change, kind), run.environ)
    try:
        discarded = run.backend.patch(kind, change.id, body)
    except DraftConflict:
        if not run.discard_drafts:
            raise
        discarded = run.backend.patch(kind, change.id, body, force=True)
    if discarded:
        run.discarded.append(change.address)


def _run(change: Change, run: _Run) -> None:
    backend, recorder, environ = run.backend, run.recorder, run.environ
    change = _with_ids(change, recorder)
    kind = recorder.state.kind(change.address)
    if change.action == "create":
        rid, applied = _create(kind, change, backend, recorder, environ)
        as_planned = change.applied_json if applied is change.applied else None
        recorder.put(change.address, Resource(rid, applied, "", now()), as_planned)
    elif change.action == "update":
        assert change.id is not None
        _update(change, kind, run)
        recorder.put(change.address, Resource(change.id, change.applied or {}, "", now()))
    else:
        if change.fingerprint is not None and change.id:
            backend.delete(kind, change.id)
        recorder.remove(change.address)


def _update_body(change: Change, kind: Kind) -> list[JSON] | JSON:
    """What an update sends: the RFC 6902 ops, or for a kind updated by partial objects
    the new value of each top-level field the ops touch (a removed one as null)."""
    if kind.patch_style == "json-patch":
        return change.ops
    body = change.body or {}
    top = {op["path"].split("/")[1].replace("~1", "/").replace("~0", "~") for op in change.ops}
    return {key: body.get(key) for key in sorted(top)}


def waves(changes: Sequence[Change]) -> list[list[Change]]:
    """Changes in the order the reference graph needs: a resource is created or updated
    before those that reference it (`depends_on`), and deleted after them (personas, the
    only kind that references others today, first)."""
    pending = [c for c in changes if c.action != "delete"]
    out: list[list[Change]] = []
    done: set[str] = set()
    while pending:
        planned = {c.address for c in pending}
        ready = [c for c in pending if not (c.depends_on & planned)]
        if not ready:  # a cycle: the compiler refuses these, so never here
            raise UserError("reference cycle among " + ", ".join(sorted(planned)))
        out.append(ready)
        done.update(c.address for c in ready)
        pending = [c for c in pending if c.address not in done]
    deletes = [c for c in changes if c.action == "delete"]
    for group in (
        [c for c in deletes if kind_of(c.address).name == "personas"],
        [c for c in deletes if kind_of(c.address).name != "personas"],
    ):
        if group:
            out.append(group)
    return out


def execute(
    plan: Plan,
    backend: Backend,
    recorder: Recorder,
    environ: Mapping[str, str],
    *,
    parallelism: int = 8,
    report: Report | None = None,
    stop: threading.Event | None = None,
    discard_drafts: bool = False,
) -> Outcome:
    """Run every change; failures are collected (never stop the others) and reported.

    Once `stop` is set no further change starts; those in flight finish and are
    recorded.  A KeyboardInterrupt while waiting abandons the ones still in flight
    (a create among them stays journaled as pending, for the next apply to look for).
    An update refused for an unsaved PAL Maker draft fails, unless `discard_drafts`:
    then it is sent again with force, discarding the draft (`Outcome.discarded_drafts`).
    The caller closes `recorder` (saving the state) after the read-back."""
    run = _Execution(
        plan,
        _Run(backend, recorder, environ, discard_drafts, []),
        report,
        stop or threading.Event(),
    )
    try:
        for wave in waves(plan.changes):
            run.wave(wave, parallelism)
            if run.stop.is_set():
                break
    except KeyboardInterrupt:  # the second interrupt: stop waiting for requests in flight
        pass
    return run.outcome()


class _Execution:
    """The changes of one `execute`, run by workers that each take the next change
    themselves (no future per change, no wake-up of the main thread per change: at 16
    in flight that bookkeeping cost a tenth of the client's CPU), and what became of
    each."""

    def __init__(
        self, plan: Plan, shared: _Run, report: Report | None, stop: threading.Event
    ) -> None:
        self.plan, self.shared, self.stop = plan, shared, stop
        self.say = report or (lambda _line: None)
        self.index_of = {id(c): i for i, c in enumerate(plan.changes)}
        self.lock = threading.Lock()  # the queue, `started`, `finished`, `crashed`
        self.started: set[int] = set()  # indexes of changes begun
        self.finished: dict[int, str | None] = {}  # index -> failure message, None: done
        self.crashed: list[BaseException] = []  # a bug in a worker, raised by `wave`

    def wave(self, changes: Sequence[Change], parallelism: int) -> None:
        queue = iter(changes)
        workers = [
            threading.Thread(target=self._work, args=(queue,), name=f"personactl-apply-{n}")
            for n in range(max(1, min(parallelism, len(changes))))
        ]
        for worker in workers:
            worker.daemon = True  # abandoned by a second interrupt, they die with apply
            worker.start()
        for worker in workers:
            worker.join()
        if self.crashed:
            raise self.crashed[0]

    def _work(self, queue: Iterator[Change]) -> None:
        while not self.stop.is_set():
            with self.lock:
                change = None if self.crashed else next(queue, None)
                if change is None:
                    return
                index = self.index_of[id(change)]
                self.started.add(index)
            try:
                why = self._attempt(change)
            except BaseException as exc:  # noqa: BLE001  # a bug: `wave` raises it
                with self.lock:
                    self.crashed.append(exc)
                return
            with self.lock:
                self.finished[index] = why

    def _attempt(self, change: Change) -> str | None:
        """Run one change: None when done, else why it failed (said already)."""
        try:
            _run(change, self.shared)
        except DraftConflict as exc:  # the hint says how to go on
            why = f"{exc.problem.message} (hint: {exc.problem.hint})"
            self.say(sensitive.scrub(f"{change.address}: update failed: {why}"))
            return why
        except UserError as exc:
            why = exc.problem.message
            self.say(sensitive.scrub(f"{change.address}: {change.action} failed: {why}"))
            return why
        self.say(f"{change.address}: {change.action}d")
        return None

    def outcome(self) -> Outcome:
        with self.lock:
            outcome = _sorted_outcome(self.plan, set(self.started), dict(self.finished))
        outcome.discarded_drafts.extend(sorted(self.shared.discarded))
        return outcome


def _sorted_outcome(plan: Plan, started: set[int], finished: dict[int, str | None]) -> Outcome:
    """Each change of the plan, in plan order, by what became of it."""
    outcome = Outcome()
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
    return outcome


def read_back(outcome: Outcome, backend: Backend, state: State) -> None:
    """Re-read what was written (one list pass per kind); warn where the API did not keep a
    value.  Fingerprints go into `state`, saved by the caller."""
    written = [c for c in outcome.done if c.action != "delete"]
    if not written:
        return
    try:
        live = live_by_id(backend, kinds_in((c.address for c in written), state.api), state)
    except ApiError as exc:
        outcome.warnings.append(f"could not read back applied resources: {exc.problem.message}")
        return
    ids = {a: r.id for a, r in state.resources.items()}
    for change in written:
        resource = state.resources.get(change.address)
        deployed = live.get(resource.id) if resource else None
        if resource is None or deployed is None:
            continue
        resource.fingerprint = fingerprint(deployed)
        sent = (change.body or {}) if change.action == "create" else _sent_values(change)
        sent_json = change.body_json if change.action == "create" else None
        if change.depends_on:
            sent = refs.resolve(sent, ids)  # as sent: with the ids of the references
            sent_json = None
        for path in kept_as_sent(sent, deployed, sent_json):
            outcome.warnings.append(f"{change.address}: the API did not keep {path} as sent")


def _sent_values(change: Change) -> JSON:
    """The subset of the applied payload an update touched, as a nested mapping."""
    out: JSON = {}
    for op in change.ops:
        if op["op"] == "remove":
            continue
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = op["value"]
    return out
