"""count-in-span: no more than ``max_sessions`` sessions of a kind start in any
``span_days``-day span.

A session's count is the number of sessions of the kind that start in the ``span_days``
days up to and including its start (one exactly ``span_days`` days earlier is outside;
sessions starting at the same instant count each other). With ``from_day`` and
``until_day`` only the sessions of that phase of the course are judged and counted. Sessions carry their rank
(by start, ties by id); a session's tie group ends at rank ``top``, so its count
exceeds ``max_sessions`` exactly when the session ranked ``top - max_sessions`` starts
inside its span. Each session with such a rank sends a ``probe`` fact (that rank and
the span's opening); the ruleset joins probes with the session of that rank and marks
those that start after the opening (a violation join: one match per finding, not one
per pair of sessions).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import DAY, Hit, Mark, Params, Part, Row, Rows, View, a, seconds, texts, within
from ..base import noun as noun_of


def span_days(params: Params) -> Any:
    return params["span_days"] if "span_days" in params else params["days"]


def judged(view: View, params: Params) -> Sequence[Any]:
    """The sessions of the kind the rule judges and counts: all of them, or those of its
    phase (``from_day`` .. ``until_day``: those starting in [first + from_day days,
    first + until_day days), first being the patient's first session of the kind, in
    24-hour elapsed days). The phase selects the partition's sessions as the kind does;
    the engine counts them."""
    ordered = view.of_kind(params["kind"])
    low, high = params.get("from_day") or 0, params.get("until_day")
    if not ordered or (not low and high is None):
        return ordered
    first = ordered[0].start_s
    lo = first + seconds(low, DAY)
    hi = first + seconds(high, DAY) if high is not None else None
    return [s for s in ordered if s.start_s >= lo and (hi is None or s.start_s < hi)]


def rows(view: View, params: Params) -> Iterator[Rows]:
    ordered = judged(view, params)
    if not ordered:
        return
    window = seconds(span_days(params), DAY)
    cap = int(params["max_sessions"])
    origin = ordered[0].start_s  # from the first: alike courses make one batch
    ids = [s.id for s in ordered]
    out: list[Row] = [("s", i, s.start_s - origin) for i, s in enumerate(ordered)]
    top = len(ordered) - 1
    for i in range(len(ordered) - 1, -1, -1):  # the last rank of each tie group
        if i < len(ordered) - 1 and ordered[i + 1].start_s != ordered[i].start_s:
            top = i
        if top - cap >= 0:
            s = ordered[i]
            ids.append(f"p:{s.id}")
            out.append(("probe", top - cap, s.start_s - origin - window))
    yield ids, tuple(out)


SHAPES = {"s": ("type", "rank", "start"), "probe": ("type", "rank", "since")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.probe << (m.type == "probe"),
                  c.later << within("probe", (m.type == "s")
                                    & (m.rank == c.probe.rank)
                                    & (m.start > c.probe.since)))
        def over(c: Any) -> None:
            mark(c.probe.id)


PARTS = (Part("count-in-span", define, rows=rows, shapes=SHAPES),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    if not marks:  # no probe found its span full
        return
    params = rule.parameters
    kind = params["kind"]
    cap = int(params["max_sessions"])
    window = timedelta(seconds=seconds(span_days(params), DAY))
    ordered = judged(view, params)
    one = noun_of(kind)
    for s in ordered:
        if f"p:{s.id}" not in marks:  # the probe of the session: its span is full
            continue
        # What the message tells: the other sessions in the span the engine found full.
        others = [o for o in ordered if o is not s and s.start - window < o.start <= s.start]
        if cap == 0:
            suggestion = (f"The protocol allows no {kind} sessions in any {{span_days}}-day "
                          "span; remove {session} or review the protocol.")
            earliest = ""
        else:
            suggestion = ("Review the course: for {session} to count at most {max_sessions}, "
                          "start it at or after {earliest} ({span_days} days after the "
                          f"earliest {one} in its span), or drop {a(one)} {one} from the span.")
            earliest = view.when(min(o.start for o in others) + window, s)
        msg, fix = texts(
            rule,
            f"{kind.capitalize()} session {{session}} ({{start}}) is {one} {{count}} to start "
            "in the {span_days} days up to it; the protocol allows at most {max_sessions}.",
            suggestion,
            {"session": s.id, "start": view.when(s.start, s), "end": view.when(s.end, s),
             "kind": kind, "anchor_kind": kind, "count": len(others) + 1,
             "earliest": earliest})
        yield Hit(session=s, patient=s.patient, message=msg, suggestion=fix,
                  related=tuple(sorted(o.id for o in others)))
