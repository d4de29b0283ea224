"""before-first: sessions of a kind before the patient's first session of the anchor kind.

The first anchor session carries its window (``earliest`` start, ``latest`` end); the
ruleset marks every session of the kind inside it (a witness join), and the verdict
counts the witnesses against ``min_sessions``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import DAY, HOUR, Hit, Mark, Params, Part, Rows, View, seconds, texts, within


def rows(view: View, params: Params) -> Iterator[Rows]:
    anchor = view.first_of(params["anchor"])
    if anchor is None:
        return
    # Times from the anchor's start: patients whose windows hold alike sessions make
    # one batch (``engine``), wherever their courses began.
    origin = anchor.start_s
    targets = view.of_kind(params["kind"])
    yield ([f"a:{anchor.id}", *[s.id for s in targets]],
           (("anchor", -seconds(params["min_hours_before"], HOUR),
             -seconds(params["max_days_before"], DAY)),
            *[("target", s.start_s - origin, s.end_s - origin) for s in targets]))


SHAPES = {"anchor": ("type", "latest", "earliest"), "target": ("type", "start", "end")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.anchor << (m.type == "anchor"),
                  c.later << within("anchor", (m.type == "target")
                                    & (m.end <= c.anchor.latest)
                                    & (m.start >= c.anchor.earliest)))
        def in_window(c: Any) -> None:
            mark(c.later.id)


PARTS = (Part("before-first", define, rows=rows, shapes=SHAPES),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    anchor = view.first_of(params["anchor"])
    needed = int(params["min_sessions"])
    if anchor is None or len(marks) >= needed:
        return
    kind, anchor_kind = params["kind"], params["anchor"]
    earliest = anchor.start - timedelta(seconds=seconds(params["max_days_before"], DAY))
    latest = anchor.start - timedelta(seconds=seconds(params["min_hours_before"], HOUR))
    others = [s.id for s in view.sessions if s.kind == kind and s.id not in marks
              and s.id != anchor.id]
    before = (", each ending at least {min_hours_before} hours before it"
              if params["min_hours_before"] else "")
    message, suggestion = texts(
        rule,
        f"First {anchor_kind} session {{session}} ({{start}}) has {{found}} of the {{needed}} "
        f"{kind} session(s) required in the {{max_days_before}} days before it{before}"
        "{outside}.",
        f"Book {{missing}} more {kind} session(s) that start no earlier than {{earliest}} "
        "and end by {latest}.",
        {"session": anchor.id, "start": view.when(anchor.start, anchor),
         "end": view.when(anchor.end, anchor), "kind": kind, "anchor_kind": anchor_kind,
         "found": len(marks), "needed": needed, "missing": needed - len(marks),
         "outside": f" ({', '.join(others)} fall outside that window)" if others else "",
         "earliest": view.when(earliest, anchor), "latest": view.when(latest, anchor)})
    yield Hit(session=anchor, patient=anchor.patient, message=message, suggestion=suggestion,
              related=tuple(sorted(marks)), window=(f"book {kind}", earliest, latest))
