"""KAP-ASMT-001: a recent assessment before the first dose.

The ruleset pairs the first dosing session with every assessment that ends before it
starts and starts no earlier than ``max_days_before`` days before it (a witness join);
the patient is flagged, at the first dose, when there is none.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kapcheck.protocol import Kind, Severity

from . import before_first_dose
from .base import Fact, Hit, Mark, Params, Rule, View

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
    units={"max_days_before": "days"},
    reads=frozenset({Kind.DOSING.value, Kind.ASSESSMENT.value}),
    anchor="the patient's first dosing session",
)


def facts(view: View, params: Params) -> Sequence[Fact]:
    return before_first_dose.facts(view, params, Kind.ASSESSMENT)


def define(name: str, mark: Mark) -> None:
    before_first_dose.define(name, mark, Kind.ASSESSMENT)


def verdict(view: View, params: Params, marks: set[Any]) -> Iterator[Hit]:
    first = view.first_dose
    if first is None or marks:
        return
    earliest = first.start - before_first_dose.window(params)
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
