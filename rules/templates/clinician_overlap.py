"""clinician-overlap: a clinician's sessions do not overlap (across patients).

Partitioned by clinician, not by patient: the engine joins a clinician's sessions (of
every patient) one UTC day at a time, with the sessions carried into the day from the
one before (``overlap.day_batches``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import Any

from kapcheck.protocol import RuleSettings
from kapcheck.protocol.limits import MAX_SESSION_LENGTH

from .. import overlap
from ..base import Hit, Mark, Params, Part, Rows, View, listing, per_roster, per_schedule


def rows(view: View, params: Params) -> Iterable[Rows]:
    """The clinician's sessions day by day (a clinician's whole run, or a proposal's
    window of one day with the sessions carried into it)."""
    return overlap.day_batches(view)


def define(name: str, mark: Mark) -> None:
    overlap.overlap_ruleset(name, mark)


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


_START_S = attrgetter("start_s")
_LONGEST_S = int(MAX_SESSION_LENGTH.total_seconds())


@per_schedule
def _by_clinician(schedule: Any) -> dict[str, list[Any]]:
    """Every clinician's sessions in order of start, for views given without ``peers``."""
    out: dict[str, list[Any]] = defaultdict(list)
    for o in sorted(schedule.sessions, key=_START_S):
        for cid in o.clinicians:
            out[cid].append(o.seat(clinician=cid))
    return out


def _busy(view: View, cid: str, s: Any) -> bool:
    """Whether the clinician has a session overlapping ``s``."""
    running_for = getattr(view.schedule, "running_for", None)
    if running_for is not None:  # a proposal's, from its checker
        return any(o.start < s.end and s.start < o.end
                   for d in days_of(s) for o in running_for(d, {cid}))
    peers = view.peers if view.peers is not None else _by_clinician(view.schedule)
    return overlap.overlaps_any(peers.get(cid, ()), s)


#: How many free clinicians a suggestion names.
NAMED = 3


@per_roster
def _sharing(schedule: Any, roles: frozenset[Any]) -> tuple[str, ...]:
    """The roster's clinicians, in its order, who hold one of these roles: found once
    per schedule and role set, not by a walk of the roster for every double booking (a
    network of 14,000 clinicians took 2.5 s so at a million sessions)."""
    return tuple(c.id for c in schedule.clinicians if c.roles & roles)


def _free(view: View, s: Any) -> list[str]:
    """The first clinicians of the roster (at most NAMED) who share a role with ``s``'s
    clinician and have no session overlapping ``s``: each looked up in its own day's
    sessions, not in the whole network's."""
    roles = view.schedule.clinician_by_id[s.clinician].roles
    return overlap.first_free(_sharing(view.schedule, roles),
                              lambda cid, session: _busy(view, cid, session), s, NAMED)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    for s, earlier in overlap.pairs(view, marks):
        latest_end = max(o.end for o in earlier)
        others = [f"session {o.id} of {_whose(o)} (until {view.when(o.end, o)})"
                  for o in earlier]
        message = (f"Clinician {s.clinician} is double-booked: {s.kind.value} session {s.id} "
                   f"({view.when(s.start, s)}) overlaps {listing(others, 'and')}.")
        suggestion = (f"Move {s.id} to start at or after {view.when(latest_end, s)}, or "
                      f"assign it to {_suggest(view, s)}.")
        related = tuple(o.id for o in earlier)
        for pid in s.patients:  # a group session's: one finding for each of its patients
            yield Hit(session=s, patient=pid, message=message, suggestion=suggestion,
                      related=related)


def _whose(o: Any) -> str:
    """Whose session another is: ``patient P-1``, or ``a group of 3``."""
    return f"patient {o.patient}" if len(o.patients) == 1 else f"a group of {len(o.patients)}"


def _suggest(view: View, s: Any) -> str:
    free = _free(view, s)
    roles = " or ".join(sorted(r.value for r in view.schedule.clinician_by_id[s.clinician].roles))
    if not free:
        return f"another clinician (no other {roles or 'clinician'} of the roster is free then)"
    return f"another {roles or 'clinician'} free then: " + ", ".join(free)


PARTS = (Part("clinician-overlap", define, rows=rows, shapes=overlap.SHAPES),)
