"""before-each: sessions of a kind within a window before every session of the anchor kind
(a pregnancy test before each MDMA session).

Each anchor session carries its window, counted back from its start: a session of the
kind is a witness when it ends at or before ``start - min_hours_before`` and starts at or
after ``start - max_hours_before`` (both bounds inclusive). The ruleset pairs each anchor
with the sessions inside (a witness join), and the verdict counts each anchor's witnesses
against ``min_sessions``. A patient's anchors go to the engine one at a time, each with
the sessions of the kind that start on the UTC days its window touches (whole days: the
engine decides each bound to the second), times counted from the anchor's start.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import DAY, HOUR, Hit, Mark, Params, Part, Rows, View, a, seconds, texts, within


def rows(view: View, params: Params) -> Iterator[Rows]:
    anchors = view.of_kind(params["anchor"])
    if not anchors:
        return
    latest = seconds(params["min_hours_before"], HOUR)
    earliest = seconds(params["max_hours_before"], HOUR)
    targets = sorted(view.of_kind(params["kind"]), key=lambda s: s.start_s)
    starts = [s.start_s for s in targets]
    window = ("anchor", -latest, -earliest)
    for s in anchors:
        origin = s.start_s
        i = bisect_left(starts, (origin - earliest) // DAY * DAY)
        j = bisect_left(starts, (origin - latest) // DAY * DAY + DAY)
        yield ([f"a:{s.id}", *[t.id for t in targets[i:j]]],
               (window, *[("target", t.start_s - origin, t.end_s - origin)
                          for t in targets[i:j]]))


SHAPES = {"anchor": ("type", "latest", "earliest"), "target": ("type", "start", "end")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.anchor << (m.type == "anchor"),
                  c.later << within("anchor", (m.type == "target")
                                    & (m.end <= c.anchor.latest)
                                    & (m.start >= c.anchor.earliest)))
        def preceded(c: Any) -> None:
            mark((c.anchor.id, c.later.id))


PARTS = (Part("before-each", define, rows=rows, shapes=SHAPES),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    needed = int(params["min_sessions"])
    found = Counter(anchor[2:] for anchor, _ in marks)  # anchors' ids are "a:<id>"
    short = [s for s in view.of_kind(params["anchor"]) if found[s.id] < needed]
    if not short:
        return
    kind, anchor_kind = params["kind"], params["anchor"]
    lo = timedelta(seconds=seconds(params["max_hours_before"], HOUR))
    hi = timedelta(seconds=seconds(params["min_hours_before"], HOUR))
    for s in short:
        missing = needed - found[s.id]
        msg, suggestion = texts(
            rule,
            f"{anchor_kind.capitalize()} session {{session}} ({{start}}) has {{found}} of the "
            f"{{needed}} {kind} session(s) required in the {{max_hours_before}} hours before "
            "it" + (", each ending at least {min_hours_before} hours before it"
                    if params["min_hours_before"] else "") + ".",
            (f"Book {a(kind)} {kind} session" if missing == 1
             else f"Book {missing} more {kind} sessions")
            + " that start no earlier than {earliest} and end by {latest}.",
            {"session": s.id, "start": view.when(s.start, s), "end": view.when(s.end, s),
             "kind": kind, "anchor_kind": anchor_kind, "found": found[s.id],
             "needed": needed, "missing": missing, "earliest": view.when(s.start - lo, s),
             "latest": view.when(s.start - hi, s)})
        yield Hit(session=s, patient=s.patient, message=msg, suggestion=suggestion,
                  related=tuple(sorted(t for anchor, t in marks if anchor[2:] == s.id)),
                  window=(f"book {kind}", s.start - lo, s.start - hi))
