"""clinician-overlap: a clinician's sessions do not overlap (across patients).

Partitioned by clinician, not by patient: one engine state holds all of a
clinician's sessions in the run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from kapcheck.protocol import RuleSettings

from .. import overlap
from ..base import Fact, Hit, Mark, Params, Part, View, listing


def facts(view: View, params: Params) -> Sequence[Fact]:
    return overlap.facts(view)


def define(name: str, mark: Mark) -> None:
    overlap.overlap_ruleset(name, mark)


def running_on(schedule: Any, day: int) -> list[Any]:
    """The sessions running on a UTC day (day number since the epoch).

    A proposal's schedule answers from its checker's index (``running_on``); any other
    schedule from an index built once per schedule.
    """
    lookup = getattr(schedule, "running_on", None)
    if lookup is not None:
        return list(lookup(day))
    return day_index(schedule.sessions).get(day, [])


def days_of(s: Any) -> range:
    """The UTC days a session runs on (start day to end day)."""
    return range(s.start_s // 86400, (s.end_s - 1) // 86400 + 1)


def day_index(sessions: Any) -> dict[int, list[Any]]:
    """UTC day number -> the sessions running that day, kept for the last sessions
    tuple asked about (one tuple, read and replaced whole: safe across threads)."""
    global _INDEX
    cached = _INDEX
    if cached is not None and cached[0] is sessions:
        return cached[1]
    index: dict[int, list[Any]] = defaultdict(list)
    for o in sessions:
        for d in days_of(o):
            index[d].append(o)
    _INDEX = (sessions, index)
    return index


_INDEX: tuple[Any, dict[int, list[Any]]] | None = None


def _free(view: View, s: Any) -> list[str]:
    """Clinicians of the roster who share a role with ``s``'s clinician and have no
    session overlapping ``s``."""
    busy = {o.clinician for d in days_of(s) for o in running_on(view.schedule, d)
            if o.start < s.end and s.start < o.end}
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
