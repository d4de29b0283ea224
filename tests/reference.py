"""A plain-Python reference evaluator of the kap protocol, written from SPEC section 3
without the engine's code: the differential tests demand that durable_rules agree
with it, finding for finding.

It works on the model's UTC datetimes directly (no relative seconds, no ranks), reads
parameters from the protocol, and returns (rule, severity, patient, session) tuples.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from kapcheck.protocol import Kind, Protocol, Schedule, Session

Key = tuple[str, str, str | None, str | None]


def _first_dose(sessions: list[Session]) -> Session | None:
    doses = [s for s in sessions if s.kind is Kind.DOSING]
    return min(doses, key=lambda s: (s.start, s.id)) if doses else None


def _covered(code: str, prefix: str) -> bool:
    return code.replace(".", "").upper().startswith(prefix.replace(".", "").upper())


def _overlap_anchors(sessions: list[Session]) -> set[str]:
    """Sessions that start before an earlier-ordered one ends (sweep by start, then id)."""
    anchors = set()
    latest_end = None
    for s in sorted(sessions, key=lambda s: (s.start, s.id)):
        if latest_end is not None and s.start < latest_end:
            anchors.add(s.id)
        latest_end = s.end if latest_end is None else max(latest_end, s.end)
    return anchors


def evaluate(schedule: Schedule, protocol: Protocol) -> set[Key]:
    out: set[Key] = set()
    by_patient: dict[str, list[Session]] = defaultdict(list)
    by_clinician: dict[str, list[Session]] = defaultdict(list)
    for s in schedule.sessions:
        by_patient[s.patient].append(s)
        by_clinician[s.clinician].append(s)
    dmap = {e.prefix: [m.upper() for m in e.modalities] for e in protocol.diagnoses.entries}
    roster = {c.id: {r.value for r in c.roles} for c in schedule.clinicians}

    for rule in protocol.rules:
        if not rule.enabled:
            continue
        p = rule.parameters
        sev = rule.severity.value

        def add(patient: str | None, session: str | None, rid: str = rule.id,
                sev: str = sev) -> None:
            out.add((rid, sev, patient, session))

        for patient in schedule.patients:
            sessions = by_patient.get(patient.id, [])
            first = _first_dose(sessions)
            doses = sorted((s for s in sessions if s.kind is Kind.DOSING),
                           key=lambda s: (s.start, s.id))
            if rule.id == "KAP-PREP-001" and first is not None:
                lo = first.start - timedelta(days=p["max_days_before"])
                n = sum(1 for s in sessions if s.kind is Kind.PREPARATION
                        and s.end <= first.start and s.start >= lo)
                if n < p["min_sessions"]:
                    add(patient.id, first.id)
            elif rule.id == "KAP-ASMT-001" and first is not None:
                lo = first.start - timedelta(days=p["max_days_before"])
                if not any(s.kind is Kind.ASSESSMENT and s.end <= first.start and s.start >= lo
                           for s in sessions):
                    add(patient.id, first.id)
            elif rule.id == "KAP-INT-001":
                w = timedelta(hours=p["window_hours"])
                for d in doses:
                    if not any(s.kind is Kind.INTEGRATION and d.end <= s.start <= d.end + w
                               for s in sessions):
                        add(patient.id, d.id)
            elif rule.id == "KAP-MOD-001":
                allowed = {m for code in patient.diagnoses for prefix, mods in dmap.items()
                           if _covered(code, prefix) for m in mods}
                for s in sessions:
                    if s.kind in (Kind.PSYCHOTHERAPY, Kind.INTEGRATION) and \
                            (s.modality or "").upper() not in allowed:
                        add(patient.id, s.id)
            elif rule.id == "KAP-DX-001" and first is not None:
                if not any(_covered(code, prefix) for code in patient.diagnoses
                           for prefix in dmap):
                    add(patient.id, first.id)
            elif rule.id == "KAP-DOSE-001":
                gap = timedelta(hours=p["min_hours"])
                for prev, cur in zip(doses, doses[1:], strict=False):
                    if cur.start - prev.start < gap:
                        add(patient.id, cur.id)
            elif rule.id == "KAP-DOSE-002":
                span = timedelta(days=p["days"])
                for d in doses:
                    n = sum(1 for e in doses if d.start - span < e.start <= d.start)
                    if n > p["max_sessions"]:
                        add(patient.id, d.id)
            elif rule.id == "KAP-MON-001":
                for d in doses:
                    if d.end - d.start < timedelta(minutes=p["min_minutes"]):
                        add(patient.id, d.id)
            elif rule.id == "KAP-OVL-001":
                for sid in _overlap_anchors(sessions):
                    add(patient.id, sid)
            elif rule.id == "KAP-ROLE-001":
                table = p["roles"]
                for s in sessions:
                    if s.kind.value in table and not (roster[s.clinician] & set(table[s.kind.value])):
                        add(patient.id, s.id)
        if rule.id == "KAP-CLIN-001":
            for sessions in by_clinician.values():
                for sid in _overlap_anchors(sessions):
                    add(schedule.session_by_id[sid].patient, sid)
    return out
