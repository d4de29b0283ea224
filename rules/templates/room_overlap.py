"""room-overlap: no two sessions in the same room overlap.

Partitioned by room (compared exactly; a session without a room is in none): the engine
joins a room's sessions (of every patient and clinician) one UTC day at a time, with
the sessions carried into the day from the one before, as clinician-overlap joins a
clinician's (``overlap.day_batches``). The later-starting session (ties: the greater
id) is the anchor, and its finding is given once for each of its patients.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import attrgetter
from typing import Any

from kapcheck.protocol import RuleSettings, Schedule
from kapcheck.protocol.limits import MAX_SESSION_LENGTH

from .. import overlap
from ..base import Hit, Mark, Params, Part, Rows, View, listing, per_schedule


def rows(view: View, params: Params) -> Iterable[Rows]:
    return overlap.day_batches(view)


def define(name: str, mark: Mark) -> None:
    overlap.overlap_ruleset(name, mark)


_START_S = attrgetter("start_s")
_LONGEST_S = int(MAX_SESSION_LENGTH.total_seconds())
#: How many free rooms a suggestion names.
NAMED = 3


def by_room(sessions: Iterable[Any]) -> dict[str, list[Any]]:
    """The sessions of each room, in order (by start, ties by id)."""
    out: dict[str, list[Any]] = defaultdict(list)
    for s in sessions:
        if s.room is not None:
            out[s.room].append(s)
    for items in out.values():
        items.sort(key=attrgetter("start_s", "id"))
    return out


@per_schedule
def _rooms_of(schedule: Schedule) -> Mapping[str, Sequence[Any]]:
    return by_room(schedule.sessions)



_NAMES: tuple[Any, list[str]] | None = None


def room_names(index: Mapping[str, Any]) -> list[str]:
    """The rooms of an index in order, kept for the last index asked about (by identity;
    one tuple, read and replaced whole): a run's every conflict asks."""
    global _NAMES
    kept = _NAMES
    if kept is not None and kept[0] is index:
        return kept[1]
    names = sorted(index)
    _NAMES = (index, names)
    return names


def free_rooms(view: View, s: Any) -> list[str]:
    """The run's rooms (by name, in order) with no session overlapping ``s``, at most
    NAMED."""
    busy_in = getattr(view.schedule, "room_busy", None)
    if busy_in is not None:  # a proposal's, from its checker
        rooms: Iterable[str] = getattr(view.schedule, "rooms")  # noqa: B009
        is_busy = busy_in
    else:
        index = view.peers if view.peers is not None else _rooms_of(view.schedule)
        rooms = room_names(index)
        def is_busy(room: str, session: Any) -> bool:  # noqa: E306
            return overlap.overlaps_any(index.get(room, ()), session)
    return overlap.first_free((room for room in rooms if room != s.room), is_busy, s, NAMED)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    for s, earlier in overlap.pairs(view, marks):
        latest_end = max(o.end for o in earlier)
        others = [f"{o.kind.value} session {o.id} (until {view.when(o.end, o)})"
                  for o in earlier]
        free = free_rooms(view, s)
        where = (f"book it in {listing(free)} (free then)" if free
                 else "book it in another room (no other room of the run is free then)")
        message = (f"{s.kind.value.capitalize()} session {s.id} ({view.when(s.start, s)}) in "
                   f"room {s.room} overlaps {listing(others, 'and')} in the same room.")
        suggestion = f"Move {s.id} to start at or after {view.when(latest_end, s)}, or {where}."
        related = tuple(o.id for o in earlier)
        for pid in s.patients:  # one finding for each of its patients
            yield Hit(session=s, patient=pid, message=message, suggestion=suggestion,
                      related=related)


PARTS = (Part("room-overlap", define, rows=rows, shapes=overlap.SHAPES),)
