"""clinician-overlap: a clinician's sessions do not overlap (across patients).

Partitioned by clinician, not by patient: one engine state holds all of a
clinician's sessions in the run.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from kapcheck.protocol import RuleSettings, Schedule

from .. import overlap
from ..base import Fact, Hit, Mark, Params, Part, View, listing, per_schedule


def facts(view: View, params: Params) -> Sequence[Fact]:
    return overlap.facts(view)


def define(name: str, mark: Mark) -> None:
    overlap.overlap_ruleset(name, mark)


@per_schedule
def _timeline(schedule: Schedule) -> tuple[list[Any], list[Any], timedelta]:
    """The schedule's sessions by start, their starts, and the longest session."""
    ordered = sorted(schedule.sessions, key=lambda o: o.start)
    longest = max((o.duration for o in ordered), default=timedelta(0))
    return ordered, [o.start for o in ordered], longest


def _free(view: View, s: Any) -> list[str]:
    """Clinicians of the roster who share a role with ``s``'s clinician and have no
    session overlapping ``s``."""
    ordered, starts, longest = _timeline(view.schedule)
    lo = bisect.bisect_right(starts, s.start - longest)
    hi = bisect.bisect_left(starts, s.end)
    busy = {o.clinician for o in ordered[lo:hi] if s.start < o.end}
    roster = view.schedule.clinician_by_id
    roles = roster[s.clinician].roles
    return [c.id for c in view.schedule.clinicians if c.id not in busy and c.roles & roles]


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    for s, earlier in overlap.pairs(view, marks):
        latest_end = max(o.end for o in earlier)
        others = [f"session {o.id} of patient {o.patient} (until {view.when(o.end, o)})"
                  for o in earlier]
        yield Hit(
            session=s,
            patient=s.patient,
            message=f"Clinician {s.clinician} is double-booked: {s.kind.value} session {s.id} "
                    f"({view.when(s.start, s)}) overlaps {listing(others, 'and')}.",
            suggestion=f"Move {s.id} to start at or after {view.when(latest_end, s)}, or "
                       f"assign it to {_suggest(view, s)}.",
            related=tuple(o.id for o in earlier),
        )


def _suggest(view: View, s: Any) -> str:
    free = _free(view, s)
    roles = " or ".join(sorted(r.value for r in view.schedule.clinician_by_id[s.clinician].roles))
    if not free:
        return f"another clinician (no other {roles or 'clinician'} of the roster is free then)"
    return f"another {roles or 'clinician'} free then: " + ", ".join(free[:3])


PARTS = (Part("clinician-overlap", define, facts),)
