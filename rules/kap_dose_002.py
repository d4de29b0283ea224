"""KAP-DOSE-002: a cap on doses in any span of days.

For each dosing session, the ruleset pairs it with every other dose that starts in the
``days`` days up to and including its start (one exactly ``days`` days earlier is
outside); the verdict counts the pairs plus the dose itself against ``max_sessions``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind, Severity

from .base import DAY, Fact, Hit, Mark, Params, Rule, View, seconds, session_fact, within

RULE = Rule(
    id="KAP-DOSE-002",
    title="Doses in any span of days",
    severity=Severity.WARNING,
    requirement="No more than {max_sessions} dosing sessions start in any {days}-day span: "
                "counting, for each dosing session, those that start in the {days} days up "
                "to and including it (one exactly {days} days earlier is outside).",
    rationale="An induction course is about six infusions over two to three weeks; more "
              "doses in that span exceed the courses studied and call for a clinical review.",
    source="Common induction courses of about six infusions over two to three weeks "
           "(Wilkinson et al., Psychother Psychosom 2017;86:162 and 2021;90:318); clinics "
           "tune the cap.",
    parameters={"max_sessions": 6, "days": 21},
    units={"max_sessions": "count", "days": "days"},
    reads=frozenset({Kind.DOSING.value}),
    anchor="each dosing session whose count exceeds max_sessions",
)


def facts(view: View, params: Params) -> Sequence[Fact]:
    window = seconds(params["days"], DAY)
    return [session_fact(view, s, until=s.start_s - view.origin_s + window) for s in view.doses]


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.dose << (m.kind == "dosing"),
                  c.later << within("dose", (m.kind == "dosing")
                                    & (m.start >= c.dose.start)
                                    & (m.start < c.dose.until)))
        def in_span(c: Any) -> None:
            mark((c.later.id, c.dose.id))


def verdict(view: View, params: Params, marks: set[Any]) -> Iterator[Hit]:
    counted: dict[str, list[str]] = defaultdict(list)
    for anchor, other in marks:
        counted[anchor].append(other)
    cap = int(params["max_sessions"])
    window = timedelta(seconds=seconds(params["days"], DAY))
    for dose in view.doses:
        others = counted.get(dose.id, [])
        count = len(others) + 1
        if count <= cap:
            continue
        if cap == 0:
            fix = (f"The protocol allows no dosing sessions in any {params['days']:g}-day span; "
                   f"remove {dose.id} or review the protocol.")
        else:
            earliest = min(view.session(o).start for o in others)
            fix = (f"Review the course: for {dose.id} to count at most {cap}, start it at or "
                   f"after {view.when(earliest + window, dose)} ({params['days']:g} days after "
                   f"the earliest dose in its span), or drop a dose from the span.")
        yield Hit(
            session=dose,
            patient=dose.patient,
            message=f"Dosing session {dose.id} ({view.when(dose.start, dose)}) is dose "
                    f"{count} to start in the {params['days']:g} days up to it; the protocol "
                    f"allows at most {cap}.",
            suggestion=fix,
            related=tuple(sorted(others)),
        )
