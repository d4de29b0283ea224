"""A plain-Python reference evaluator of kapcheck's rule templates, written from the
contract (SPEC §3 and §9) without the engine's code: the differential tests demand that
durable_rules agree with it, finding for finding, for every template over its whole
parameter space.

It works on the model's UTC datetimes directly (no relative seconds, no ranks, no
facts), reads each rule's template and parameters from the protocol, and returns
(rule, severity, patient, session) tuples.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from kapcheck.protocol import Kind, Protocol, Schedule, Session

Key = tuple[str, str, str | None, str | None]


def _order(s: Session) -> tuple[Any, str]:
    return (s.start, s.id)


def _covered(code: str, prefix: str) -> bool:
    return code.replace(".", "").upper().startswith(prefix.replace(".", "").upper())


def _overlap_anchors(sessions: list[Session]) -> set[str]:
    """Sessions that start before an earlier-ordered one ends (sweep by start, then id)."""
    anchors = set()
    latest_end = None
    for s in sorted(sessions, key=_order):
        if latest_end is not None and s.start < latest_end:
            anchors.add(s.id)
        latest_end = s.end if latest_end is None else max(latest_end, s.end)
    return anchors


def _minimum(p: dict[str, Any], s: Session) -> timedelta | None:
    """min-duration: the least length of the session; None when a dose is needed and
    missing (always a finding)."""
    table = p.get("by_dose_mg")
    if not table:
        return timedelta(minutes=p["min_minutes"])
    if s.dose_mg is None:
        return None
    rows = [minutes for dose, minutes in table if dose <= s.dose_mg]
    return timedelta(minutes=rows[-1] if rows else p["min_minutes"])


def evaluate(schedule: Schedule, protocol: Protocol) -> set[Key]:
    out: set[Key] = set()
    by_patient: dict[str, list[Session]] = defaultdict(list)
    by_clinician: dict[str, list[Session]] = defaultdict(list)
    by_room: dict[str, list[Session]] = defaultdict(list)
    for s in schedule.sessions:  # a group session counts for each of its patients (SPEC §11)
        for pid in s.patients:
            by_patient[pid].append(s)
        for cid in s.clinicians:
            by_clinician[cid].append(s)
        if s.room is not None:
            by_room[s.room].append(s)
    dmap = {e.prefix: [m.upper() for m in e.modalities] for e in protocol.diagnoses.entries}
    roster = {c.id: {r.value for r in c.roles} for c in schedule.clinicians}

    for rule in protocol.rules:
        if not rule.enabled:
            continue
        p = dict(rule.parameters)
        if "days" in p:
            p["span_days"] = p["days"]
        t = rule.template

        def add(patient: str | None, session: str | None, rid: str = rule.id,
                sev: str = rule.severity.value) -> None:
            out.add((rid, sev, patient, session))

        if t in ("clinician-overlap", "room-overlap"):
            for sessions in (by_clinician if t == "clinician-overlap" else by_room).values():
                for sid in _overlap_anchors(sessions):
                    for pid in schedule.session_by_id[sid].patients:
                        add(pid, sid)
            continue
        for patient in schedule.patients:
            sessions = sorted(by_patient.get(patient.id, []), key=_order)

            def of(kind: str, sessions: list[Session] = sessions) -> list[Session]:
                return [s for s in sessions if s.kind.value == kind]

            if t == "before-first":
                anchors = of(p["anchor"])
                if anchors:
                    first = anchors[0]
                    lo = first.start - timedelta(days=p["max_days_before"])
                    hi = first.start - timedelta(hours=p["min_hours_before"])
                    n = sum(1 for s in of(p["kind"]) if s.end <= hi and s.start >= lo)
                    if n < p["min_sessions"]:
                        add(patient.id, first.id)
            elif t == "after-each":
                anchors = of(p["anchor"])
                for a in anchors[:1] if p.get("only_first") else anchors:
                    lo = a.end + timedelta(hours=p["min_hours_after"])
                    hi = a.end + timedelta(hours=p["window_hours"])
                    n = sum(1 for s in of(p["kind"]) if lo <= s.start <= hi)
                    if n < p["min_sessions"]:
                        add(patient.id, a.id)
            elif t == "spacing":
                ordered = of(p["kind"])
                for prev, cur in zip(ordered, ordered[1:], strict=False):
                    gap = cur.start - prev.start
                    if gap < timedelta(hours=p["min_hours"]) or (
                            p.get("max_hours") is not None
                            and gap > timedelta(hours=p["max_hours"])):
                        add(patient.id, cur.id)
            elif t == "count-in-span":
                ordered = of(p["kind"])
                if ordered and (p.get("from_day") or p.get("until_day") is not None):
                    begin = ordered[0].start + timedelta(days=p.get("from_day") or 0)
                    until = p.get("until_day")
                    end = ordered[0].start + timedelta(days=until) if until is not None else None
                    ordered = [s for s in ordered
                               if s.start >= begin and (end is None or s.start < end)]
                span = timedelta(days=p["span_days"])
                for d in ordered:
                    n = sum(1 for e in ordered if d.start - span < e.start <= d.start)
                    if n > p["max_sessions"]:
                        add(patient.id, d.id)
            elif t == "min-duration":
                for s in of(p["kind"]):
                    least = _minimum(p, s)
                    if least is None or s.end - s.start < least:
                        add(patient.id, s.id)
            elif t == "modality-map":
                allowed = {m for code in patient.diagnoses for prefix, mods in dmap.items()
                           if _covered(code, prefix) for m in mods}
                for s in sessions:
                    if s.kind in (Kind.PSYCHOTHERAPY, Kind.INTEGRATION) and \
                            (s.modality or "").upper() not in allowed:
                        add(patient.id, s.id)
            elif t == "diagnosis-covered":
                doses = of("dosing")
                if doses and not any(_covered(code, prefix) for code in patient.diagnoses
                                     for prefix in dmap):
                    add(patient.id, doses[0].id)
            elif t == "patient-overlap":
                for sid in _overlap_anchors(sessions):
                    add(patient.id, sid)
            elif t == "roles":
                table = p["roles"]
                for s in sessions:
                    held = {r for cid in s.clinicians for r in roster[cid]}
                    if s.kind.value in table and not (held & set(table[s.kind.value])):
                        add(patient.id, s.id)
            elif t == "before-each":
                for a in of(p["anchor"]):
                    lo = a.start - timedelta(hours=p["max_hours_before"])
                    hi = a.start - timedelta(hours=p["min_hours_before"])
                    n = sum(1 for s in of(p["kind"]) if s.end <= hi and s.start >= lo)
                    if n < p["min_sessions"]:
                        add(patient.id, a.id)
            elif t == "same-clinician":
                anchors = of(p["anchor"])
                if anchors:
                    f = anchors[0]
                    n = sum(1 for s in of(p["kind"])
                            if s is not f and s.end <= f.start
                            and set(s.clinicians) & set(f.clinicians))
                    if n < p["min_sessions"]:
                        add(patient.id, f.id)
            elif t == "recorded-before-first":
                anchors = of(p["anchor"])
                if anchors:
                    f = anchors[0]
                    zone = f.zone or schedule.timezone
                    day = f.start.astimezone(ZoneInfo(zone)).date() if zone else f.start.date()
                    recorded = patient.record(p["record"])
                    most = p.get("max_days_before")
                    if recorded is None or recorded > day - timedelta(days=p["min_days_before"]) \
                            or (most is not None and recorded < day - timedelta(days=most)):
                        add(patient.id, f.id)
            elif t == "first-dose":
                doses = of(p["kind"])
                if doses and (doses[0].dose_mg is None or doses[0].dose_mg > p["max_dose_mg"]):
                    add(patient.id, doses[0].id)
            elif t == "min-clinicians":
                for s in of(p["kind"]):
                    roles = p.get("roles")
                    n = sum(1 for cid in s.clinicians
                            if roles is None or roster[cid] & set(roles))
                    if n < p["min_clinicians"]:
                        add(patient.id, s.id)
            elif t == "group-ratio":
                for s in of(p["kind"]):
                    n, k = len(s.patients), len(s.clinicians)
                    table = p.get("by_dose_mg")
                    if table:
                        fits = [r for dose, r in table
                                if s.dose_mg is not None and dose <= s.dose_mg]
                        most = fits[-1] if fits else None
                    else:
                        most = p["max_patients_per_clinician"]
                    if most is None or Fraction(n, k) > Fraction(str(most)) or (
                            p.get("max_patients") is not None and n > p["max_patients"]):
                        add(patient.id, s.id)
            else:
                raise AssertionError(f"the reference knows no template {t!r}")
    return out
