"""KAP-DOSE-001: consecutive doses are spaced.

Each dosing session carries its rank among the patient's doses (by start, ties by
id). The ruleset marks every pair of doses in which the later-ranked one starts less
than ``min_hours`` after the earlier one (a violation join). A dose is in such a pair
exactly when it is too close to its immediate predecessor, which starts no earlier
than any other dose before it. (``m.rank == c.dose.rank + 1`` segfaulted durable_rules.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind, Severity

from .base import HOUR, Fact, Hit, Mark, Params, Rule, View, seconds, session_fact, span, within

RULE = Rule(
    id="KAP-DOSE-001",
    title="Spacing between doses",
    severity=Severity.ERROR,
    requirement="Consecutive dosing sessions of a patient start at least {min_hours} hours "
                "apart.",
    rationale="Induction courses space infusions two or three a week, leaving time for "
              "recovery, monitoring and an integration session between doses.",
    source="Common induction courses of about six infusions over two to three weeks, two or "
           "three a week (e.g. Wilkinson et al., Psychother Psychosom 2017;86:162); clinics "
           "tune the spacing.",
    parameters={"min_hours": 48},
    units={"min_hours": "hours"},
    reads=frozenset({Kind.DOSING.value}),
    anchor="the later dosing session",
)


def facts(view: View, params: Params) -> Sequence[Fact]:
    gap = seconds(params["min_hours"], HOUR)
    return [session_fact(view, s, rank=i, clear=s.start_s - view.origin_s + gap)
            for i, s in enumerate(view.doses)]


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.dose << (m.kind == "dosing"),
                  c.later << within("dose", (m.kind == "dosing")
                                    & (m.rank > c.dose.rank)
                                    & (m.start < c.dose.clear)))
        def too_soon(c: Any) -> None:
            mark((c.later.id, c.dose.id))


def verdict(view: View, params: Params, marks: set[Any]) -> Iterator[Hit]:
    previous: dict[str, str] = {}
    for later, earlier in sorted(marks):  # the immediate predecessor: the latest-ranked
        if later not in previous or view.session(earlier).order > view.session(previous[later]).order:
            previous[later] = earlier
    gap = timedelta(seconds=seconds(params["min_hours"], HOUR))
    for dose in view.doses:
        if dose.id not in previous:
            continue
        before = view.session(previous[dose.id])
        yield Hit(
            session=dose,
            patient=dose.patient,
            message=f"Dosing session {dose.id} ({view.when(dose.start, dose)}) starts "
                    f"{span(dose.start - before.start)} after the previous dose {before.id}; "
                    f"doses must start at least {params['min_hours']:g} hours apart.",
            suggestion=f"Move {dose.id} to start at or after "
                       f"{view.when(before.start + gap, dose)}.",
            related=(before.id,),
        )
