"""KAP-MON-001: a dosing session is long enough for dose and monitoring.

The floor enters the ruleset as a ``policy`` fact; the ruleset marks every dosing
session whose length is below it (a violation join).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind, Severity

from .base import (
    MINUTE,
    Fact,
    Hit,
    Mark,
    Params,
    Rule,
    View,
    seconds,
    session_fact,
    span,
    within,
)

RULE = Rule(
    id="KAP-MON-001",
    title="Monitoring after each dose",
    severity=Severity.ERROR,
    requirement="A dosing session lasts at least {min_minutes} minutes (dose plus "
                "monitoring).",
    rationale="Dissociation, sedation and raised blood pressure peak in the first hours "
              "after a dose; the patient stays under a healthcare provider's observation "
              "until they resolve.",
    source="FDA-approved REMS for esketamine (Spravato, NDA 211243): monitoring by a "
           "healthcare provider for at least two hours after each administration; kapcheck "
           "applies the same floor to racemic ketamine by default.",
    parameters={"min_minutes": 120},
    units={"min_minutes": "minutes"},
    reads=frozenset({Kind.DOSING.value, "policy"}),
    anchor="the dosing session",
)


def facts(view: View, params: Params) -> Sequence[Fact]:
    doses = view.doses
    if not doses:
        return []
    floor = seconds(params["min_minutes"], MINUTE)
    return ([{"id": "policy", "type": "policy", "floor": floor}]
            + [session_fact(view, s, length=s.end_s - s.start_s) for s in doses])


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.dose << (m.type == "policy"),
                  c.later << within("dose", (m.kind == "dosing")
                                    & (m.length < c.dose.floor)))
        def too_short(c: Any) -> None:
            mark(c.later.id)


def verdict(view: View, params: Params, marks: set[Any]) -> Iterator[Hit]:
    floor = timedelta(seconds=seconds(params["min_minutes"], MINUTE))
    for dose in view.doses:
        if dose.id not in marks:
            continue
        yield Hit(
            session=dose,
            patient=dose.patient,
            message=f"Dosing session {dose.id} ({view.when(dose.start, dose)}) lasts "
                    f"{span(dose.duration)}; dose plus monitoring needs at least "
                    f"{params['min_minutes']:g} minutes.",
            suggestion=f"Extend {dose.id} to end at or after "
                       f"{view.when(dose.start + floor, dose)}.",
        )
