"""Schedules that make the rules work hard: boundaries to the second, back-to-back and
triple overlaps, dense induction courses, shared clinicians, daylight-saving changes
in several timezones, and randomly parameterised protocols.

``build(pick)`` takes a chooser so that the same generator serves hypothesis (which
shrinks failures) and a seeded ``random.Random`` (for the coverage sanity checks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import attrs

from kapcheck.protocol import (
    Clinician,
    Kind,
    Patient,
    Protocol,
    Role,
    RuleSettings,
    Schedule,
    Session,
    Severity,
    load_protocol,
)

T = TypeVar("T")
Pick = Callable[[Sequence[T]], T]

# Local starts a few days before a daylight-saving change (or none, for UTC and India).
ZONES = [
    ("America/New_York", datetime(2026, 3, 5, 9, 0)),
    ("America/New_York", datetime(2026, 10, 29, 9, 0)),
    ("Europe/London", datetime(2026, 3, 26, 8, 0)),
    ("Australia/Sydney", datetime(2026, 4, 1, 10, 0)),
    ("Asia/Kolkata", datetime(2026, 1, 5, 9, 30)),
    ("UTC", datetime(2026, 2, 1, 0, 0)),
]
H, M, S, D = timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1), timedelta(days=1)
# Offsets that land on or next to the default protocol's boundaries.
NUDGES = [timedelta(0), S, -S, M, -M]
SPANS = [0 * H, 1 * H, 2 * H, 24 * H, 47 * H, 48 * H, 72 * H, 3 * D, 7 * D, 14 * D, 21 * D,
         30 * D, 35 * D]
LENGTHS = [30 * M, 50 * M, 60 * M, 90 * M, 90 * M + 30 * S, 100 * M, 119 * M, 120 * M, 2 * H + S,
           121 * M, 3 * H, 4 * H, 4 * H - S]
CODES = ["F33.2", "F332", "F32.1", "F43.10", "F431", "F41.1", "F90.0", "F10.20", "F43.2"]
MODALITIES = ["CBT", "cbt", "PDT", "PE", "CPT", "EMDR", "DBT"]


KINDS = [k.value for k in Kind]
#: Dose tables: sorted rows, a first row above zero, fractions of a mg.
DOSE_TABLES = [None, ((0, 60), (5, 120), (10, 240)), ((10, 90),), ((0.5, 30), (2.25, 100)),
               ((0, 119), (2.5, 121))]
DOSES = [None, 0, 0.5, 2.5, 5, 9.999, 10, 25]
#: Ratio tables (patients per clinician by dose): Oregon's, fractions, a first row above 0.
RATIO_TABLES = [None, ((0, 25), (5, 15), (10, 8), (15, 6), (25, 4), (35, 2)),
                ((0.5, 2), (5, 1.5)), ((0, 3), (2.5, 1), (10, 0.5))]
ROOMS = [None, None, "A", "B", "a", "Room A"]


def template_rule(pick: Pick[Any], template: str, rule_id: str = "GEN-001") -> RuleSettings:
    """A rule of that template with parameters drawn from its whole space, boundaries
    included (they line up with the generator's spans and nudges)."""
    params: dict[str, Any]
    if template == "before-first":
        params = {"anchor": pick(["dosing", "dosing", *KINDS]), "kind": pick(KINDS),
                  "min_sessions": pick([0, 1, 1, 2, 3]),
                  "min_hours_before": pick([0, 0, 1, 24, 0.5]),
                  "max_days_before": pick([1, 7, 14, 30, 3.5])}
    elif template == "after-each":
        params = {"anchor": pick(["dosing", "dosing", *KINDS]),
                  "kind": pick(["integration", "integration", *KINDS]),
                  "min_sessions": pick([1, 1, 1, 2, 3]),
                  "min_hours_after": pick([0, 0, 0, 1, 24, 47]),
                  "window_hours": pick([48, 72, 36.5, 168, 720]),
                  "only_first": pick([False, False, True])}
    elif template == "spacing":
        low = pick([0, 24, 48, 72])
        params = {"kind": pick(["dosing", "dosing", *KINDS]), "min_hours": low}
        high = pick([None, None, 48, 72, 96, 168])
        if high is not None and high >= low:
            params["max_hours"] = high
    elif template == "count-in-span":
        params = {"kind": pick(["dosing", "dosing", *KINDS]),
                  "max_sessions": pick([0, 1, 2, 3, 6]), "span_days": pick([1, 7, 14, 21, 3.5])}
        if pick([False, True]):
            low = pick([0, 1, 7, 28, 3.5])
            params["from_day"] = low
            until = pick([None, 7, 14, 28, 56])
            if until is not None and until > low:
                params["until_day"] = until
    elif template == "before-each":
        low = pick([0, 0, 1, 24])
        params = {"anchor": pick(["dosing", "dosing", *KINDS]), "kind": pick(KINDS),
                  "min_sessions": pick([0, 1, 1, 2]), "min_hours_before": low,
                  "max_hours_before": pick([h for h in (1, 24, 48, 72, 36.5, 168) if h >= low])}
    elif template == "same-clinician":
        params = {"anchor": pick(["dosing", "dosing", *KINDS]), "kind": pick(KINDS),
                  "min_sessions": pick([0, 1, 1, 2])}
    elif template == "recorded-before-first":
        low = pick([0, 0, 1, 7])
        params = {"anchor": pick(["dosing", "dosing", *KINDS]),
                  "record": pick(["consent", "rems-enrollment"]), "min_days_before": low}
        most = pick([None, 7, 14, 30])
        if most is not None and most >= low:
            params["max_days_before"] = most
    elif template == "first-dose":
        params = {"kind": pick(["dosing", "dosing", *KINDS]),
                  "max_dose_mg": pick([0, 0.5, 2.5, 5, 10, 56])}
    elif template == "min-duration":
        params = {"kind": pick(["dosing", "dosing", *KINDS]),
                  "min_minutes": pick([50, 60, 120, 150, 90.5])}
        table = pick(DOSE_TABLES)
        if table is not None:
            params["by_dose_mg"] = table
    elif template == "min-clinicians":
        params = {"kind": pick(["dosing", "dosing", *KINDS]),
                  "min_clinicians": pick([0, 1, 2, 2, 3])}
        roles = pick([None, None, ("therapist",), ("prescriber", "nurse"), ()])
        if roles is not None:
            params["roles"] = roles
    elif template == "group-ratio":
        params = {"kind": pick(["dosing", "integration", *KINDS])}
        table = pick(RATIO_TABLES)
        if table is not None:
            params["by_dose_mg"] = table
        if table is None or pick([False, True]):
            params["max_patients_per_clinician"] = pick([1, 2, 1.5, 0.5, 0.333, 25])
        most = pick([None, None, 1, 2, 3])
        if most is not None:
            params["max_patients"] = most
    elif template == "roles":
        params = {"roles": pick([
            {"dosing": ("prescriber", "nurse"), "preparation": ("therapist",),
             "integration": ("therapist",), "psychotherapy": ("therapist",)},
            {"dosing": ("prescriber",), "assessment": ("prescriber", "nurse")},
            {"assessment": ()}])}
    else:
        params = {}
    return RuleSettings(id=rule_id, severity=pick([Severity.ERROR, Severity.WARNING]),
                        enabled=True, parameters=params, template=template,
                        title="generated", requirement="generated")


def template_protocol(pick: Pick[Any], template: str) -> Protocol:
    """The kap protocol's diagnosis map with one or two generated rules of a template."""
    base = load_protocol("kap")
    rules = [template_rule(pick, template, "GEN-001")]
    if pick([False, True]):
        rules.append(template_rule(pick, template, "GEN-002"))
    return attrs.evolve(base, rules=tuple(rules))


def protocol_variant(pick: Pick[Any]) -> Protocol:
    """The default protocol, or one with other parameters, severities and a disabled rule."""
    base = load_protocol("kap")
    if pick([True, False, False]):
        return base
    changes: dict[str, dict[str, Any]] = {
        "KAP-PREP-001": {"min_sessions": pick([0, 1, 2, 3]), "max_days_before": pick([7, 14, 30])},
        "KAP-INT-001": {"window_hours": pick([24, 48, 72, 36.5])},
        "KAP-DOSE-001": {"min_hours": pick([24, 48, 72])},
        "KAP-DOSE-002": {"max_sessions": pick([0, 1, 2, 3, 6]), "days": pick([7, 14, 21])},
        "KAP-MON-001": {"min_minutes": pick([60, 120, 150])},
        "KAP-ASMT-001": {"max_days_before": pick([7, 14, 30])},
        "KAP-ROLE-001": {"roles": pick([
            {"dosing": ("prescriber", "nurse"), "preparation": ("therapist",),
             "integration": ("therapist",), "psychotherapy": ("therapist",)},
            {"dosing": ("prescriber",), "assessment": ("prescriber", "nurse")},
        ])},
    }
    rules = []
    for r in base.rules:
        params = dict(r.parameters)
        params.update(changes.get(r.id, {}))
        rules.append(attrs.evolve(r, parameters=params,
                                  enabled=pick([True, True, True, False])))
    return attrs.evolve(base, rules=tuple(rules))


def build(pick: Pick[Any], max_sessions: int = 12) -> Schedule:
    zone_name, local_start = pick(ZONES)
    tz = ZoneInfo(zone_name)
    origin = local_start.replace(tzinfo=tz)
    n_clinicians = pick([1, 2, 3, 4])
    role_sets = [frozenset({Role.PRESCRIBER}), frozenset({Role.NURSE}),
                 frozenset({Role.THERAPIST}), frozenset(), frozenset({Role.PRESCRIBER,
                                                                       Role.THERAPIST})]
    clinicians = [Clinician(f"c{i}", pick(role_sets)) for i in range(n_clinicians)]
    patients = []
    sessions: list[Session] = []
    n_patients = pick([1, 1, 2, 3])
    serial = 0
    for p in range(n_patients):
        codes = tuple(pick([[], ["F33.2"], ["F43.10"], ["F90.0"], ["F41.1", "F43.1"]])
                      or ()) if pick([True, False]) else (pick(CODES),)
        pid = f"P{p}"
        records = tuple((name, (origin + pick([-31 * D, -30 * D, -14 * D, -7 * D, -D, 0 * D, D,
                                               5 * D])).astimezone(tz).date())
                        for name in ("consent", "rems-enrollment") if pick([True, False]))
        patients.append(Patient(pid, codes, records))
        mine: list[Session] = []
        if pick([False, False, True]):
            # A dense induction course: doses at a fixed step, some with integration.
            step = pick([24 * H, 48 * H, 48 * H - S, 72 * H, 3 * D + 12 * H])
            for k in range(pick([4, 6, 7, 8])):
                serial += 1
                start = origin + k * step
                dose = Session(id=f"D{serial:03d}", patient=pid, kind=Kind.DOSING, start=start,
                               end=start + pick([120 * M, 119 * M, 3 * H]),
                               clinician=pick(clinicians).id, zone=zone_name,
                               dose_mg=pick(DOSES))
                mine.append(dose)
                if pick([True, True, False]):
                    serial += 1
                    at = dose.end + pick([24 * H, 72 * H, 72 * H + S, 72 * H - M])
                    mine.append(Session(id=f"I{serial:03d}", patient=pid, kind=Kind.INTEGRATION,
                                        start=at, end=at + 50 * M, modality=pick(MODALITIES),
                                        clinician=pick(clinicians).id, zone=zone_name))
        for _ in range(pick(list(range(0, max_sessions + 1)))):
            kind = pick([Kind.DOSING, Kind.DOSING, Kind.INTEGRATION, Kind.PREPARATION,
                         Kind.PSYCHOTHERAPY, Kind.ASSESSMENT])
            # Anchor on an earlier session's start or end (or the origin), then step.
            if mine and pick([True, True, False]):
                ref = pick(mine)
                base_time = pick([ref.start, ref.end])
            else:
                base_time = origin
            sign = pick([1, 1, -1])
            start = base_time + sign * pick(SPANS) + pick(NUDGES)
            if pick([False, False, True]):
                # A wall-clock time in the zone (exercise local arithmetic across DST).
                local = (base_time.astimezone(tz) + pick(SPANS)).replace(tzinfo=None)
                start = local.replace(tzinfo=tz)
            length = pick(LENGTHS)
            serial += 1
            sid = pick([f"S{serial:03d}", f"S{serial}", f"x{serial}"])
            modality = pick(MODALITIES) if kind in (Kind.PSYCHOTHERAPY, Kind.INTEGRATION) \
                else None
            s = Session(id=sid, patient=pid, kind=kind, start=start, end=start + length,
                        clinician=pick(clinicians).id, modality=modality, zone=zone_name,
                        dose_mg=pick(DOSES) if kind is Kind.DOSING else None)
            mine.append(s)
        sessions.extend(mine)
    if n_patients > 1 or n_clinicians > 1 or pick([False, True]):
        sessions = [_grouped(pick, s, patients, clinicians) for s in sessions]
    return Schedule(clinicians=tuple(clinicians), patients=tuple(patients),
                    sessions=tuple(sessions), timezone=zone_name)


def _grouped(pick: Pick[Any], s: Session, patients: Sequence[Patient],
             clinicians: Sequence[Clinician]) -> Session:
    """The session, perhaps as a group (other patients join it, in any order), with
    co-clinicians, and in a room (SPEC §11)."""
    others = [p.id for p in patients if p.id != s.patient]
    people = [s.patient]
    if others and pick([False, False, True]):
        people += [pid for pid in others if pick([True, False])]
        if pick([False, True]):
            people.reverse()  # the written first need not be the generator's patient
    team = [s.clinician]
    spare = [c.id for c in clinicians if c.id != s.clinician]
    if spare and pick([False, False, True]):
        team += [cid for cid in spare if pick([True, False])]
    return attrs.evolve(s, patient=people[0], patients=tuple(people), clinicians=tuple(team),
                        room=pick(ROOMS))
