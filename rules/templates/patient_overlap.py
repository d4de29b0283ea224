"""patient-overlap: a patient's sessions do not overlap."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kapcheck.protocol import RuleSettings

from .. import overlap
from ..base import Hit, Mark, Params, Part, Rows, View, listing


def rows(view: View, params: Params) -> Iterable[Rows]:
    return overlap.day_batches(view)


def define(name: str, mark: Mark) -> None:
    overlap.overlap_ruleset(name, mark)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
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


PARTS = (Part("patient-overlap", define, rows=rows, shapes=overlap.SHAPES),)
