"""recorded-before-first: a patient's dated record (REMS enrollment, signed consent) on
or before the day of their first anchor session.

Dates are compared as days in the schedule's timezone: the first anchor's local date is
day 0; the record is a fact with its day, the anchor one with the window
(``latest`` = -min_days_before, ``earliest`` = -max_days_before, or far back with none).
A witness join marks a record inside the window; a missing or unmarked record is a
finding on the first anchor session.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import Hit, Mark, Params, Part, Rows, View, texts, within

#: Far enough back to stand for "no earliest day" (more than the years kapcheck reads).
_NO_EARLIEST = -1_000_000


def _local_day(view: View, s: Any) -> Any:
    zone = s.zone or view.schedule.timezone
    return s.start.astimezone(ZoneInfo(zone)).date() if zone else s.start.date()


def _days(value: Any) -> int:
    return int(value)


def rows(view: View, params: Params) -> Iterator[Rows]:
    anchor = view.first_of(params["anchor"])
    if anchor is None or view.patient is None:
        return
    latest = -_days(params["min_days_before"])
    most = params.get("max_days_before")
    earliest = -_days(most) if most is not None else _NO_EARLIEST
    facts: list[Any] = [("anchor", latest, earliest)]
    ids: list[Any] = [f"a:{anchor.id}"]
    recorded = view.patient.record(params["record"])
    if recorded is not None:
        facts.append(("record", (recorded - _local_day(view, anchor)).days))
        ids.append("record")
    yield ids, tuple(facts)


SHAPES = {"anchor": ("type", "latest", "earliest"), "record": ("type", "day")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.anchor << (m.type == "anchor"),
                  c.later << within("anchor", (m.type == "record")
                                    & (m.day <= c.anchor.latest)
                                    & (m.day >= c.anchor.earliest)))
        def in_time(c: Any) -> None:
            mark(c.later.id)


PARTS = (Part("recorded-before-first", define, rows=rows, shapes=SHAPES),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    anchor = view.first_of(params["anchor"])
    if anchor is None or view.patient is None or "record" in marks:
        return
    record, anchor_kind = params["record"], params["anchor"]
    recorded = view.patient.record(record)
    day = _local_day(view, anchor)
    latest = day - timedelta(days=_days(params["min_days_before"]))
    most = params.get("max_days_before")
    earliest = day - timedelta(days=_days(most)) if most is not None else None
    when = (f"between {earliest} and {latest}" if earliest is not None
            else f"on or before {latest}")
    has = f"is dated {recorded}" if recorded is not None else "is missing"
    msg, suggestion = texts(
        rule,
        f"First {anchor_kind} session {{session}} ({{start}}): the patient's {record} record "
        f"{has}; it must be dated {when}.",
        f"Record the patient's {record} dated {when}, or move {{session}}.",
        {"session": anchor.id, "start": view.when(anchor.start, anchor),
         "end": view.when(anchor.end, anchor), "kind": anchor_kind, "anchor_kind": anchor_kind,
         "record": record, "recorded": str(recorded) if recorded else "none",
         "earliest": str(earliest) if earliest else "none", "latest": str(latest)})
    yield Hit(session=anchor, patient=anchor.patient, message=msg, suggestion=suggestion)
