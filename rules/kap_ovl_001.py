"""KAP-OVL-001: a patient's sessions do not overlap."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kapcheck.protocol import Kind, Severity

from . import overlap
from .base import Fact, Hit, Mark, Params, Rule, View, listing

RULE = Rule(
    id="KAP-OVL-001",
    title="No overlapping sessions for a patient",
    severity=Severity.ERROR,
    requirement="A patient's sessions do not overlap.",
    rationale="A patient cannot attend two sessions at once; an overlap means one of them "
              "will not happen as scheduled, often the monitoring or integration that the "
              "protocol depends on.",
    source="Scheduling integrity; Spravato REMS (NDA 211243): the patient stays under "
           "observation for the whole monitoring period.",
    parameters={},
    reads=frozenset(k.value for k in Kind),
    anchor="the later-starting session (ties: the greater id, compared as strings)",
)


def facts(view: View, params: Params) -> Sequence[Fact]:
    return overlap.facts(view)


def define(name: str, mark: Mark) -> None:
    overlap.overlap_ruleset(name, mark)


def verdict(view: View, params: Params, marks: set[Any]) -> Iterator[Hit]:
    for s, earlier in overlap.pairs(view, marks):
        latest_end = max(o.end for o in earlier)
        others = [f"{o.kind.value} session {o.id} (until {view.when(o.end, o)})"
                  for o in earlier]
        yield Hit(
            session=s,
            patient=s.patient,
            message=f"{s.kind.value.capitalize()} session {s.id} ({view.when(s.start, s)}) "
                    f"overlaps {listing(others, 'and')} of the same patient.",
            suggestion=f"Move {s.id} to start at or after {view.when(latest_end, s)}, or "
                       f"reschedule the session it overlaps.",
            related=tuple(o.id for o in earlier),
        )
