"""KAP-ASMT-001: a recent assessment before the first dose.

The ruleset pairs the first dosing session with every assessment that ends before it
starts and starts no earlier than ``max_days_before`` days before it (a witness join);
the patient is flagged, at the first dose, when there is none.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind, Severity

from .base import DAY, Fact, Hit, Mark, Params, Rule, View, seconds, session_fact, within

RULE = Rule(
    id="KAP-ASMT-001",
    title="A recent assessment before the first dose",
    severity=Severity.WARNING,
    requirement="An assessment session ends before the first dosing session starts and "
                "starts no earlier than {max_days_before} days before it.",
    rationale="A recent baseline assessment confirms the indication, screens for "
              "contraindications and gives the measure against which response is judged.",
    source="Baseline assessment before treatment as in the studies the protocol follows "
           "(Wilkinson et al., Psychother Psychosom 2017;86:162; Grabski et al., Am J "
           "Psychiatry 2022); clinics tune the window.",
    parameters={"max_days_before": 14},
    reads=frozenset({Kind.DOSING.value, Kind.ASSESSMENT.value}),
    anchor="the patient's first dosing session",
)


def facts(view: View, params: Params) -> Sequence[Fact]:
    first = view.first_dose
    if first is None:
        return []
    earliest = view.t(first.start) - seconds(params["max_days_before"], DAY)
    return [session_fact(view, first, earliest=earliest)] + [
        session_fact(view, s) for s in view.of_kind(Kind.ASSESSMENT)]


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.dose << (m.kind == "dosing"),
                  c.later << within("dose", (m.kind == "assessment")
                                    & (m.end <= c.dose.start)
                                    & (m.start >= c.dose.earliest)))
        def assessed(c: Any) -> None:
            mark(c.later.id)


def verdict(view: View, params: Params, marks: set[Any]) -> Iterator[Hit]:
    first = view.first_dose
    if first is None or marks:
        return
    earliest = first.start - timedelta(seconds=seconds(params["max_days_before"], DAY))
    others = [s.id for s in view.of_kind(Kind.ASSESSMENT)]
    outside = f" ({', '.join(others)} fall outside that window)" if others else ""
    yield Hit(
        session=first,
        patient=first.patient,
        message=f"No assessment session ends before first dosing session {first.id} "
                f"({view.when(first.start, first)}) and starts within the "
                f"{params['max_days_before']:g} days before it{outside}.",
        suggestion=f"Book an assessment that starts no earlier than "
                   f"{view.when(earliest, first)} and ends by {view.when(first.start, first)}.",
    )
