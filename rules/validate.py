"""``validate``: a schedule and a protocol in, a report out. Pure and re-entrant."""

from __future__ import annotations

import operator
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

from kapcheck.protocol import (
    Problem,
    Protocol,
    ProtocolError,
    RuleSettings,
    Schedule,
    Session,
    gcpause,
    params,
)
from kapcheck.protocol.checks import ensure_valid
from kapcheck.protocol.templates import REQUIRED, TEMPLATES

from . import engine
from .base import Hit, Partition, View
from .report import Finding, Report, apply_waivers, sort_findings
from .templates import MODULES
from .templates.room_overlap import by_room


def check_protocol(protocol: Protocol) -> None:
    """Every rule of the protocol names a template kapcheck implements.

    ``load_protocol`` checks each rule against its template's schema; this guards
    protocols built or changed in code (``attrs.evolve``) with the same checks of
    parameter values.
    """
    problems = []
    for settings in protocol.rules:
        where = settings.provenance.get("severity") or (protocol.files[-1] if protocol.files
                                                          else protocol.name)
        spec = TEMPLATES.get(settings.template)
        if spec is None or settings.template not in MODULES:
            problems.append(Problem(where, f"rules.{settings.id}.template",
                                    f"kapcheck has no template {settings.template!r}; it has "
                                    f"{', '.join(MODULES)}"))
            continue
        for name, value in settings.parameters.items():
            canonical = next((n for n, p in spec.params.items() if name in (n, p.alias)), None)
            file = settings.provenance.get(name, where)
            path = f"rules.{settings.id}.{name}"
            if canonical is None:
                problems.append(Problem(file, path, f"the {spec.name} template has no "
                                                    f"parameter {name!r}"))
            elif (why := params.problem(spec.params[canonical].unit, value)) is not None:
                problems.append(Problem(file, path, why))
        if settings.template == "group-ratio" and not settings.parameters.get("by_dose_mg") \
                and settings.parameters.get("max_patients_per_clinician") is None:
            problems.append(Problem(where, f"rules.{settings.id}.max_patients_per_clinician",
                                    "is required unless by_dose_mg gives the ratio by dose"))
        for name, p in spec.params.items():
            if p.default is REQUIRED and name not in settings.parameters and (
                    p.alias is None or p.alias not in settings.parameters):
                problems.append(Problem(where, f"rules.{settings.id}.{name}", "is required"))
    if problems:
        raise ProtocolError(problems)


def _views(schedule: Schedule, protocol: Protocol) -> dict[Partition, list[View]]:
    """The partitions the protocol's enabled rules read, each a list of views."""
    by_patient, by_clinician = group(schedule.sessions)
    rooms = by_room(schedule.sessions) if _needs(protocol, Partition.ROOM) else {}
    return views_of(schedule, protocol, by_patient, by_clinician, rooms, whole=True)


def _needs(protocol: Protocol, partition: Partition) -> bool:
    return any(Partition(TEMPLATES[r.template].partition) is partition
               for r in protocol.rules if r.enabled)


def group(sessions: Iterable[Session]) -> tuple[dict[str, list[Session]], dict[str, list[Session]]]:
    """Sessions by patient and by clinician, each list in order (by start, ties by id).

    A group session is in each of its patients' lists as that patient's seat, and a
    session of several clinicians in each of theirs as that clinician's (``Session.seat``):
    every rule that reads a patient's sessions counts it for each patient, and a
    clinician's sessions hold it once."""
    by_patient: dict[str, list[Session]] = defaultdict(list)
    by_clinician: dict[str, list[Session]] = defaultdict(list)
    # In the order given, then each list sorted: a file lists a patient's sessions
    # together, and walking a million sessions in time order instead (one sort of the
    # whole run) was twice as slow, from memory alone.
    for s in sessions:
        patients, clinicians = s.patients, s.clinicians
        if len(patients) == 1:
            by_patient[s.patient].append(s)
        else:
            for pid in patients:
                by_patient[pid].append(s.seat(patient=pid))
        if len(clinicians) == 1:
            by_clinician[s.clinician].append(s)
        else:
            for cid in clinicians:
                by_clinician[cid].append(s.seat(clinician=cid))
    for items in (*by_patient.values(), *by_clinician.values()):
        items.sort(key=BY_START)
    return by_patient, by_clinician


def views_of(schedule: Schedule, protocol: Protocol, by_patient: Mapping[str, list[Session]],
             by_clinician: Mapping[str, list[Session]],
             rooms: Mapping[str, list[Session]] | None = None,
             whole: bool = False) -> dict[Partition, list[View]]:
    """Views of the patients and clinicians given (all of a run, or the patients a
    proposal touches). The run-wide partition holds the sessions of the patients given:
    its verdicts depend on a patient's own sessions.

    A clinician with a single session is left out: no overlap can lie in it.
    """
    needed = {Partition(TEMPLATES[r.template].partition) for r in protocol.rules if r.enabled}
    views: dict[Partition, list[View]] = {part: [] for part in Partition}
    if Partition.PATIENT in needed:
        for pid in sorted(by_patient):
            mine = by_patient[pid]
            patient = schedule.patient_by_id.get(pid)
            if mine and patient is not None:
                views[Partition.PATIENT].append(View(
                    key=f"patient {pid}", sessions=tuple(mine), schedule=schedule,
                    diagnoses=protocol.diagnoses, origin=mine[0].start, patient=patient))
    if Partition.CLINICIAN in needed:
        # Every clinician's sessions, when they are the run's every session (a whole
        # run gives them all): a suggestion looks there for a colleague free at the time.
        # A proposal gives none, and its schedule is not asked for its sessions: that
        # would apply the proposal to the whole network.
        peers = by_clinician if whole else None
        for cid in sorted(by_clinician):
            mine = by_clinician[cid]
            if len(mine) > 1:  # the template joins them day by day (overlap.day_batches)
                views[Partition.CLINICIAN].append(View(
                    key=f"clinician {cid}", sessions=tuple(mine), schedule=schedule,
                    diagnoses=protocol.diagnoses, origin=mine[0].start,
                    clinician=schedule.clinician_by_id.get(cid), peers=peers))
    if Partition.ROOM in needed:
        for room in sorted(rooms or {}):
            mine = (rooms or {})[room]
            if len(mine) > 1:
                views[Partition.ROOM].append(View(
                    key=f"room {room}", sessions=tuple(mine), schedule=schedule,
                    diagnoses=protocol.diagnoses, origin=mine[0].start, room=room,
                    peers=rooms if whole else None))
    if Partition.RUN in needed:
        sessions = tuple(s for pid in sorted(by_patient) for s in by_patient[pid])
        if sessions:
            views[Partition.RUN].append(View(
                key="the run", sessions=sessions, schedule=schedule,
                diagnoses=protocol.diagnoses, origin=sessions[0].start))
    return views


#: The order of a partition's sessions: by start, ties by id compared as strings.
BY_START = operator.attrgetter("start_s", "id")


def _finding(settings: RuleSettings, hit: Hit) -> Finding:
    return Finding(rule=settings.id, severity=settings.severity, patient=hit.patient,
                   session=hit.session.id if hit.session else None, message=hit.message,
                   suggestion=hit.suggestion, start=hit.session.start if hit.session else None,
                   related=hit.related, source=hit.session.source if hit.session else None,
                   window=hit.window)


#: Below this many sessions a run stays in one process: forking costs more than it saves.
PARALLEL_MIN_SESSIONS = 5000
#: Worker processes when none are asked for (``jobs=None``): one. Measured at a million
#: sessions on two free cores (bench/README.md), two workers took 44 to 53 s against 58
#: to 64 s in one process, but the process tree held 2.3 GB against 0.87 GB (a worker's
#: reads dirty the pages it shares with the parent: reference counts), past the 1 GB a
#: run keeps to; ``jobs=N`` is there for a machine with the memory to spare.
DEFAULT_JOBS = 1


# What forked workers read: set by the parent just before it forks, inherited by the
# children (copy on write), so that no schedule is pickled to them.
_FORKED: tuple[Protocol, dict[Partition, list[list[View]]]] | None = None


def _chunks(items: list[View], n: int) -> list[list[View]]:
    """n contiguous chunks of about the same number of sessions."""
    total = sum(len(v.sessions) for v in items) or 1
    chunks: list[list[View]] = [[] for _ in range(n)]
    seen = 0
    for view in items:
        chunks[min(n - 1, seen * n // total)].append(view)
        seen += len(view.sessions)
    return chunks


def _run(protocol: Protocol, views: dict[Partition, list[View]]) -> list[tuple[str, list[Hit]]]:
    enabled = [s for s in protocol.rules if s.enabled]
    work = [(MODULES[s.template], s, views[Partition(TEMPLATES[s.template].partition)])
            for s in enabled]
    return [(s.id, hits) for s, hits in zip(enabled, engine.run_rules(work), strict=True)]


def _run_chunk(index: int) -> list[tuple[str, list[Hit]]]:
    assert _FORKED is not None
    protocol, chunks = _FORKED
    return _run(protocol, {part: chunks[part][index] for part in chunks})


def _run_parallel(protocol: Protocol, views: dict[Partition, list[View]],
                  jobs: int) -> list[tuple[str, list[Hit]]]:
    global _FORKED
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = {part: _chunks(items, jobs) for part, items in views.items()}
    with _FORK_LOCK:
        _FORKED = (protocol, chunks)
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                parts = list(pool.map(_run_chunk, range(jobs)))
        finally:
            _FORKED = None
    merged: dict[str, list[Hit]] = {}
    for part in parts:  # chunk order is view order: the merge is deterministic
        for rule_id, hits in part:
            merged.setdefault(rule_id, []).extend(hits)
    return list(merged.items())


def validate(schedule: Schedule, protocol: Protocol, *, as_of: date | None = None,
             jobs: int | None = 1) -> Report:
    """Check every enabled rule of the protocol against the schedule.

    ``as_of`` is the day waivers are judged on (default: today in each waiver's
    document timezone). ``jobs`` > 1 partitions patients (and clinicians) across
    that many forked worker processes; the findings are the same (faster on free cores,
    at the cost of memory: each worker holds much of the model again). ``jobs=None`` is
    ``DEFAULT_JOBS``, one.
    Raises ScheduleError listing every problem of a schedule that breaks the
    invariants every loaded schedule keeps (a hand-built or ``attrs.evolve``-d one is
    checked here), ProtocolError for a protocol kapcheck cannot run, and EngineError
    if the rules engine fails; never prints.
    """
    check_protocol(protocol)
    with gcpause.paused():
        ensure_valid(schedule)
        return _validate(schedule, protocol, as_of, jobs)


def _validate(schedule: Schedule, protocol: Protocol, as_of: date | None,
              jobs: int | None) -> Report:
    if jobs is None:
        jobs = DEFAULT_JOBS
    views = _views(schedule, protocol)
    if jobs > 1 and len(schedule.sessions) >= PARALLEL_MIN_SESSIONS and _can_fork():
        results = _run_parallel(protocol, views, jobs)
    else:
        results = _run(protocol, views)
    settings_of = {s.id: s for s in protocol.rules}
    findings = [_finding(settings_of[rule_id], hit) for rule_id, hits in results for hit in hits]
    findings = apply_waivers(findings, schedule, {r.id for r in protocol.rules}, as_of)
    return Report(
        protocol_name=protocol.name,
        protocol_version=protocol.version,
        findings=sort_findings(findings),
        patients=len(schedule.patients),
        sessions=len(schedule.sessions),
        clinic=schedule.clinic,
        as_of=as_of,
        patient_ids=tuple(sorted(p.id for p in schedule.patients)),
        skipped=schedule.skipped,
    )


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


_FORK_LOCK = threading.Lock()
