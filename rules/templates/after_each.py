"""after-each: sessions of a kind within a window after every session of the anchor kind.

Each anchor session carries its window (``lo`` = its end + ``min_hours_after``, ``hi`` =
its end + ``window_hours``, both inclusive); the ruleset pairs it with every session of
the kind that starts inside (a witness join), and the verdict counts each anchor's
witnesses against ``min_sessions``. One session may serve several anchors. With
``only_first`` the patient's first anchor session alone is an anchor ("two integration
sessions after the first dose").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import HOUR, Fact, Hit, Mark, Params, Part, View, a, seconds, texts, within


def anchor_sessions(view: View, params: Params) -> list[Any]:
    """Every session of the anchor kind, or (``only_first``) the first of them."""
    anchors = view.of_kind(params["anchor"])
    return anchors[:1] if params.get("only_first") else anchors


def facts(view: View, params: Params) -> Sequence[Fact]:
    origin = view.origin_s
    lo = seconds(params["min_hours_after"], HOUR)
    hi = seconds(params["window_hours"], HOUR)
    anchors = [{"id": f"a:{s.id}", "type": "anchor", "lo": s.end_s - origin + lo,
                "hi": s.end_s - origin + hi} for s in anchor_sessions(view, params)]
    if not anchors:
        return []
    return anchors + [{"id": s.id, "type": "target", "start": s.start_s - origin}
                      for s in view.of_kind(params["kind"])]


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.anchor << (m.type == "anchor"),
                  c.later << within("anchor", (m.type == "target")
                                    & (m.start >= c.anchor.lo)
                                    & (m.start <= c.anchor.hi)))
        def followed(c: Any) -> None:
            mark((c.anchor.id, c.later.id))


PARTS = (Part("after-each", define, facts, by_id=True),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    marks = {(anchor[2:], target) for anchor, target in marks}  # anchors' ids are "a:<id>"
    kind, anchor_kind = params["kind"], params["anchor"]
    needed = int(params["min_sessions"])
    lo = timedelta(seconds=seconds(params["min_hours_after"], HOUR))
    hi = timedelta(seconds=seconds(params["window_hours"], HOUR))
    found = Counter(anchor for anchor, _ in marks)
    window = ("within {window_hours} hours after it" if not params["min_hours_after"]
              else "between {min_hours_after} and {window_hours} hours after it")
    if needed == 1:
        message = (f"{anchor_kind.capitalize()} session {{session}} ends {{end}} and no {kind} "
                   f"session starts {window}.")
    else:
        message = (f"{anchor_kind.capitalize()} session {{session}} ends {{end}} and "
                   f"{{found}} of the {{needed}} {kind} sessions required start {window}.")
    for s in anchor_sessions(view, params):
        if found[s.id] >= needed:
            continue
        missing = needed - found[s.id]
        book = (f"Book {a(kind)} {kind} session" if missing == 1
                else f"Book {missing} more {kind} sessions")
        msg, suggestion = texts(
            rule, message, book + " starting between {earliest} and {latest}.",
            {"session": s.id, "start": view.when(s.start, s), "end": view.when(s.end, s),
             "kind": kind, "anchor_kind": anchor_kind, "found": found[s.id], "needed": needed,
             "missing": missing, "earliest": view.when(s.end + lo, s),
             "latest": view.when(s.end + hi, s)})
        yield Hit(session=s, patient=s.patient, message=msg, suggestion=suggestion,
                  related=tuple(sorted(t for anchor, t in marks if anchor == s.id)))
