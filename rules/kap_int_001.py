"""KAP-INT-001: an integration session follows every dose.

The ruleset pairs each dosing session with the integration sessions that start within
``window_hours`` after it ends, both bounds inclusive (a witness join); the verdict
reports the doses that no pair covers (set difference).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind, Severity

from .base import HOUR, Fact, Hit, Mark, Params, Rule, View, seconds, session_fact, within

RULE = Rule(
    id="KAP-INT-001",
    title="Integration after every dose",
    severity=Severity.ERROR,
    requirement="Every dosing session is followed by an integration session within "
                "{window_hours} hours after it ends.",
    rationale="Therapy soon after each dose helps the patient process and integrate the "
              "dissociative experience and prolongs the benefit of the treatment.",
    source="Seed article (shared/seeds/000_e7d065e461f7bc8f.txt): therapy to process and "
           "integrate the ketamine experience; Wilkinson et al., Psychother Psychosom "
           "2017;86:162; Shiroma et al., J Clin Psychiatry 2020 (infusion 24 hours before "
           "prolonged exposure sessions).",
    parameters={"window_hours": 72},
    units={"window_hours": "hours"},
    reads=frozenset({Kind.DOSING.value, Kind.INTEGRATION.value}),
    anchor="the dosing session",
)


def facts(view: View, params: Params) -> Sequence[Fact]:
    window = seconds(params["window_hours"], HOUR)
    return [session_fact(view, s, due=s.end_s - view.origin_s + window) if s.kind is Kind.DOSING
            else session_fact(view, s)
            for s in view.of_kind(Kind.DOSING, Kind.INTEGRATION)]


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.dose << (m.kind == "dosing"),
                  c.later << within("dose", (m.kind == "integration")
                                    & (m.start >= c.dose.end)
                                    & (m.start <= c.dose.due)))
        def integrated(c: Any) -> None:
            mark(c.dose.id)


def verdict(view: View, params: Params, marks: set[Any]) -> Iterator[Hit]:
    window = timedelta(seconds=seconds(params["window_hours"], HOUR))
    for dose in view.doses:
        if dose.id in marks:
            continue
        yield Hit(
            session=dose,
            patient=dose.patient,
            message=f"Dosing session {dose.id} ends {view.when(dose.end, dose)} and no "
                    f"integration session starts within {params['window_hours']:g} hours "
                    f"after it.",
            suggestion=f"Book an integration session starting between "
                       f"{view.when(dose.end, dose)} and {view.when(dose.end + window, dose)}.",
        )
