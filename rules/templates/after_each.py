"""after-each: sessions of a kind within a window after every session of the anchor kind.

Each anchor session carries its window (``lo`` = its end + ``min_hours_after``, ``hi`` =
its end + ``window_hours``, both inclusive); the ruleset pairs it with every session of
the kind that starts inside (a witness join), and the verdict counts each anchor's
witnesses against ``min_sessions``. One session may serve several anchors. With
``only_first`` the patient's first anchor session alone is an anchor ("two integration
sessions after the first dose").

A patient's anchors go to the engine one at a time (``batches``): each with the sessions
of the kind that start on the UTC days its window touches, whole days, so that the
engine, not the batching, decides each bound to the second. Times count from the
anchor's end, so that anchors followed alike (a dose, and an integration session the
next morning) make one batch (``engine``): at 100,000 sessions, 34,396 doses made 63
distinct batches. Where windows are so long that the anchors' batches would hold more
than twice the patient's facts, the patient's anchors and sessions go as one batch.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from operator import attrgetter
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import DAY, HOUR, Hit, Mark, Params, Part, Rows, View, a, seconds, texts, within


def anchor_sessions(view: View, params: Params) -> Sequence[Any]:
    """Every session of the anchor kind, or (``only_first``) the first of them."""
    anchors = view.of_kind(params["anchor"])
    return anchors[:1] if params.get("only_first") else anchors


_START = attrgetter("start_s")


def rows(view: View, params: Params) -> Iterator[Rows]:
    anchors = anchor_sessions(view, params)
    if not anchors:
        return
    lo = seconds(params["min_hours_after"], HOUR)
    hi = seconds(params["window_hours"], HOUR)
    # By start, whatever the view's order (a view's are in order: then a linear pass).
    targets = sorted(view.of_kind(params["kind"]), key=_START)
    starts = [s.start_s for s in targets]
    spans = [(bisect_left(starts, (s.end_s + lo) // DAY * DAY),
              bisect_left(starts, (s.end_s + hi) // DAY * DAY + DAY)) for s in anchors]
    if sum(j - i for i, j in spans) > 2 * len(targets) + len(anchors):
        origin = view.origin_s
        yield ([f"a:{s.id}" for s in anchors] + [s.id for s in targets],
               tuple([("anchor", s.end_s - origin + lo, s.end_s - origin + hi) for s in anchors]
                     + [("target", s.start_s - origin) for s in targets]))
        return
    ids = [t.id for t in targets]
    anchor = ("anchor", lo, hi)
    for s, (i, j) in zip(anchors, spans, strict=True):
        origin = s.end_s
        yield ([f"a:{s.id}", *ids[i:j]],
               (anchor, *[("target", start - origin) for start in starts[i:j]]))


SHAPES = {"anchor": ("type", "lo", "hi"), "target": ("type", "start")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.anchor << (m.type == "anchor"),
                  c.later << within("anchor", (m.type == "target")
                                    & (m.start >= c.anchor.lo)
                                    & (m.start <= c.anchor.hi)))
        def followed(c: Any) -> None:
            mark((c.anchor.id, c.later.id))


PARTS = (Part("after-each", define, rows=rows, shapes=SHAPES),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    needed = int(params["min_sessions"])
    found = Counter(anchor[2:] for anchor, _ in marks)  # anchors' ids are "a:<id>"
    short = [s for s in anchor_sessions(view, params) if found[s.id] < needed]
    if not short:
        return
    kind, anchor_kind = params["kind"], params["anchor"]
    lo = timedelta(seconds=seconds(params["min_hours_after"], HOUR))
    hi = timedelta(seconds=seconds(params["window_hours"], HOUR))
    window = ("within {window_hours} hours after it" if not params["min_hours_after"]
              else "between {min_hours_after} and {window_hours} hours after it")
    if needed == 1:
        message = (f"{anchor_kind.capitalize()} session {{session}} ends {{end}} and no {kind} "
                   f"session starts {window}.")
    else:
        message = (f"{anchor_kind.capitalize()} session {{session}} ends {{end}} and "
                   f"{{found}} of the {{needed}} {kind} sessions required start {window}.")
    for s in short:
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
                  related=tuple(sorted(t for anchor, t in marks if anchor[2:] == s.id)),
                  window=(f"book {kind}", s.end + lo, s.end + hi))
