"""``validate``: a schedule and a protocol in, a report out. Pure and re-entrant."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

from kapcheck.protocol import Problem, Protocol, ProtocolError, RuleSettings, Schedule

from . import engine
from .base import Hit, Partition, View
from .catalog import BY_ID, RULES
from .report import Finding, Report, apply_waivers, sort_findings


def check_protocol(protocol: Protocol) -> None:
    """Every rule of the protocol is one kapcheck knows, with the parameters it reads."""
    problems = []
    for settings in protocol.rules:
        where = settings.provenance.get("severity") or (protocol.files[-1] if protocol.files
                                                          else protocol.name)
        rule = RULES.get(settings.id)
        if rule is None:
            problems.append(Problem(where, f"rules.{settings.id}",
                                    f"kapcheck has no rule {settings.id}; it knows "
                                    f"{', '.join(RULES)}"))
            continue
        for name in rule.parameters:
            value = settings.parameters.get(name)
            path = f"rules.{settings.id}.{name}"
            file = settings.provenance.get(name, where)
            if value is None:
                problems.append(Problem(file, path, "is required"))
            elif name in rule.counts and (isinstance(value, bool) or not isinstance(value, int)):
                problems.append(Problem(file, path, f"expected a whole number, got {value!r}"))
        for name in settings.parameters:
            if name not in rule.parameters:
                problems.append(Problem(settings.provenance.get(name, where),
                                        f"rules.{settings.id}.{name}",
                                        f"{settings.id} has no parameter {name!r}; it has "
                                        f"{', '.join(rule.parameters) or 'none'}"))
    if problems:
        raise ProtocolError(problems)


def _views(schedule: Schedule, protocol: Protocol) -> dict[Partition, list[View]]:
    by_patient: dict[str, list[Any]] = defaultdict(list)
    by_clinician: dict[str, list[Any]] = defaultdict(list)
    for s in schedule.sessions:
        by_patient[s.patient].append(s)
        by_clinician[s.clinician].append(s)
    views: dict[Partition, list[View]] = {Partition.PATIENT: [], Partition.CLINICIAN: []}
    for patient in sorted(schedule.patients, key=lambda p: p.id):
        sessions = tuple(sorted(by_patient.get(patient.id, ()), key=lambda s: s.order))
        if sessions:
            views[Partition.PATIENT].append(View(
                key=f"patient {patient.id}", sessions=sessions, schedule=schedule,
                diagnoses=protocol.diagnoses, origin=sessions[0].start, patient=patient))
    for cid in sorted(by_clinician):
        sessions = tuple(sorted(by_clinician[cid], key=lambda s: s.order))
        views[Partition.CLINICIAN].append(View(
            key=f"clinician {cid}", sessions=sessions, schedule=schedule,
            diagnoses=protocol.diagnoses, origin=sessions[0].start,
            clinician=schedule.clinician_by_id.get(cid)))
    return views


def _finding(settings: RuleSettings, hit: Hit) -> Finding:
    return Finding(rule=settings.id, severity=settings.severity, patient=hit.patient,
                   session=hit.session.id if hit.session else None, message=hit.message,
                   suggestion=hit.suggestion, start=hit.session.start if hit.session else None,
                   related=hit.related)


def validate(schedule: Schedule, protocol: Protocol, *, as_of: date | None = None) -> Report:
    """Check every enabled rule of the protocol against the schedule.

    ``as_of`` is the day waivers are judged on (default: today in each waiver's
    document timezone). Raises ProtocolError for a protocol kapcheck cannot run, and
    EngineError if the rules engine fails; never prints.
    """
    check_protocol(protocol)
    views = _views(schedule, protocol)
    findings: list[Finding] = []
    for settings in protocol.rules:
        if not settings.enabled:
            continue
        module = BY_ID[settings.id]
        params: Mapping[str, Any] = settings.parameters
        for hit in engine.run_rule(module, params, views[module.RULE.partition]):
            findings.append(_finding(settings, hit))
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
    )
