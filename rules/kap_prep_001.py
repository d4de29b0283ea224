"""KAP-PREP-001: preparation sessions come before the first dose.

The ruleset pairs the first dosing session with every preparation session that ends
before it starts and starts no earlier than ``max_days_before`` days before it (a
witness join). The verdict counts the witnesses against ``min_sessions``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kapcheck.protocol import Kind, Severity

from . import before_first_dose
from .base import Fact, Hit, Mark, Params, Rule, View

RULE = Rule(
    id="KAP-PREP-001",
    title="Preparation before the first dose",
    severity=Severity.ERROR,
    requirement="The first dosing session is preceded by at least {min_sessions} preparation "
                "session(s), each ending before it starts and starting no earlier than "
                "{max_days_before} days before it.",
    rationale="Preparation builds the therapeutic alliance, sets intentions and readies the "
              "patient for the dissociative experience, so that the dose can be worked with "
              "in therapy rather than merely endured.",
    source="Seed article (shared/seeds/000_e7d065e461f7bc8f.txt): therapy is a necessary "
           "component of ketamine treatment; Wilkinson et al., Psychother Psychosom "
           "2017;86:162 and 2021;90:318 (ketamine infusions with CBT); Grabski et al., Am J "
           "Psychiatry 2022 (KARE: ketamine with mindfulness-based relapse prevention).",
    parameters={"min_sessions": 1, "max_days_before": 30},
    units={"min_sessions": "count", "max_days_before": "days"},
    reads=frozenset({Kind.DOSING.value, Kind.PREPARATION.value}),
    anchor="the patient's first dosing session",
)


def facts(view: View, params: Params) -> Sequence[Fact]:
    return before_first_dose.facts(view, params, Kind.PREPARATION)


def define(name: str, mark: Mark) -> None:
    before_first_dose.define(name, mark, Kind.PREPARATION)


def verdict(view: View, params: Params, marks: set[Any]) -> Iterator[Hit]:
    first = view.first_dose
    needed = int(params["min_sessions"])
    if first is None or len(marks) >= needed:
        return
    earliest = first.start - before_first_dose.window(params)
    others = [s.id for s in view.of_kind(Kind.PREPARATION) if s.id not in marks]
    outside = f" ({', '.join(others)} fall outside that window)" if others else ""
    missing = needed - len(marks)
    yield Hit(
        session=first,
        patient=first.patient,
        message=f"First dosing session {first.id} ({view.when(first.start, first)}) has "
                f"{len(marks)} of the {needed} preparation session(s) required in the "
                f"{params['max_days_before']:g} days before it{outside}.",
        suggestion=f"Book {missing} more preparation session(s) that start no earlier than "
                   f"{view.when(earliest, first)} and end by {view.when(first.start, first)}.",
        related=tuple(sorted(marks)),
    )
