"""The overlap join shared by KAP-OVL-001 (a patient's sessions) and KAP-CLIN-001
(a clinician's sessions, across patients).

Sessions carry their rank in the partition (by start, ties by id compared as
strings). The ruleset marks every pair in which a later-ranked session starts before
an earlier-ranked one ends: the later one is the anchor. Back-to-back is fine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from durable.lang import c, m, ruleset, when_all

from .base import Fact, Mark, View, session_fact, within


def facts(view: View) -> Sequence[Fact]:
    if len(view.sessions) < 2:
        return []
    return [session_fact(view, s, rank=i) for i, s in enumerate(view.sessions)]


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
