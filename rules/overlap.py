"""The overlap join shared by KAP-OVL-001 (a patient's sessions) and KAP-CLIN-001
(a clinician's sessions, across patients).

Sessions carry their rank in the partition (by start, ties by id compared as
strings). The ruleset marks every pair in which a later-ranked session starts before
an earlier-ranked one ends: the later one is the anchor. Back-to-back is fine.

Both join one UTC day's sessions at a time (``day_windows``): a patient's or a
clinician's sessions go to the engine day by day, each day's times counted from its own
first start, so that alike days make one batch (``engine``). A proposal's checker gives
a clinician's view of one day, the sessions carried into it first; those are never
anchors (``pairs``), so what they join on the day before is not reported twice.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Session
from kapcheck.protocol.limits import MAX_SESSION_LENGTH

from .base import Mark, Rows, View, within

_START_S = attrgetter("start_s")


def day_windows(ordered: Sequence[Session]) -> Iterator[tuple[Session, ...]]:
    """Sessions (in order) in windows of one UTC day each, by the day they start.

    A window also holds, first, the earlier sessions still running when it opens
    (carried): a session that starts in the window can overlap only those and the
    window's own, so every overlap lies within the window of its later session, and the
    engine joins a day's sessions instead of a quarter's. A window of one session holds
    no overlap and is not given.
    """
    running: list[Session] = []  # the window being filled: carried, then the day's own
    window_day = None
    for s in ordered:
        day = s.start_s // 86400
        if day != window_day:  # the window closes; the next opens with what still runs
            if len(running) > 1:
                yield tuple(running)
            if running:
                opens = day * 86400
                running = [r for r in running if r.end_s > opens]
            window_day = day
        running.append(s)
    if len(running) > 1:
        yield tuple(running)


_LONGEST_S = int(MAX_SESSION_LENGTH.total_seconds())


def overlaps_any(in_order: Sequence[Session], s: Session) -> bool:
    """Whether a session of ``in_order`` (a clinician's or a room's, by start) overlaps
    ``s``: those that start before ``s`` ends, looked at from the latest back to one that
    starts a longest session's length (or more) before ``s`` does, which ends by the time
    ``s`` starts (the schedule's check holds every session to that length), as does every
    one before it."""
    i = bisect_left(in_order, s.end_s, key=_START_S)
    while i > 0:
        i -= 1
        o = in_order[i]
        if o.start_s <= s.start_s - _LONGEST_S:
            return False
        if o.end_s > s.start_s:
            return True
    return False


def first_free(candidates: Iterable[str], busy: Callable[[str, Session], bool], s: Session,
               most: int) -> list[str]:
    """The first ``most`` candidates (colleagues, rooms), in order, not busy during ``s``:
    what a double booking's suggestion names."""
    free: list[str] = []
    for candidate in candidates:
        if not busy(candidate, s):
            free.append(candidate)
            if len(free) == most:
                break
    return free


#: The facts' shapes (``base.Part.rows``): sessions in rank order.
SHAPES = {"session": ("type", "rank", "start", "end")}


def day_batches(view: View) -> Iterator[Rows]:
    """A view's sessions day by day (a patient's, a clinician's), each day from its own
    first start.

    Every pair that overlaps is joined in the window of its later session (where the
    earlier one is its own or carried); a pair of carried sessions is joined again,
    which the set of marks absorbs.
    """
    for sessions in day_windows(view.sessions):
        origin = sessions[0].start_s
        yield ([s.id for s in sessions],
               tuple([("session", i, s.start_s - origin, s.end_s - origin)
                      for i, s in enumerate(sessions)]))


def overlap_ruleset(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.session << (m.type == "session"),
                  c.later << within("session", (m.type == "session")
                                    & (m.rank > c.session.rank)
                                    & (m.start < c.session.end)))
        def overlapping(c: Any) -> None:
            mark((c.later.id, c.session.id))


def pairs(view: View, marks: set[Any]) -> Iterator[tuple[Any, list[Any]]]:
    """(anchor session, the earlier sessions it overlaps), in the partition's order."""
    earlier: dict[str, list[str]] = defaultdict(list)
    for later, first in marks:
        earlier[later].append(first)
    for s in view.sessions:
        if s.id in earlier and s.id not in view.carried:
            yield s, sorted((view.session(o) for o in earlier[s.id]), key=lambda x: x.order)
