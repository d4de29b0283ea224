"""count-in-span: no more than ``max_sessions`` sessions of a kind start in any
``span_days``-day span.

For each session of the kind, the ruleset pairs it with every other that starts in the
``span_days`` days up to and including its start (one exactly ``span_days`` days
earlier is outside); the verdict counts the pairs plus the session itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import DAY, Fact, Hit, Mark, Params, Part, View, a, seconds, texts, within
from ..base import noun as noun_of


def span_days(params: Params) -> Any:
    return params["span_days"] if "span_days" in params else params["days"]


def facts(view: View, params: Params) -> Sequence[Fact]:
    window = seconds(span_days(params), DAY)
    return [{"id": s.id, "type": "s", "start": s.start_s - view.origin_s,
             "until": s.start_s - view.origin_s + window}
            for s in view.sessions if s.kind == params["kind"]]


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.first << (m.type == "s"),
                  c.later << within("first", (m.type == "s")
                                    & (m.start >= c.first.start)
                                    & (m.start < c.first.until)))
        def in_span(c: Any) -> None:
            mark((c.later.id, c.first.id))


PARTS = (Part("count-in-span", define, facts),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    kind = params["kind"]
    counted: dict[str, list[str]] = defaultdict(list)
    for anchor, other in marks:
        counted[anchor].append(other)
    cap = int(params["max_sessions"])
    window = timedelta(seconds=seconds(span_days(params), DAY))
    one = noun_of(kind)
    for s in view.sessions:
        if s.kind != kind:
            continue
        others = counted.get(s.id, [])
        count = len(others) + 1
        if count <= cap:
            continue
        if cap == 0:
            suggestion = (f"The protocol allows no {kind} sessions in any {{span_days}}-day "
                          "span; remove {session} or review the protocol.")
            earliest = ""
        else:
            suggestion = ("Review the course: for {session} to count at most {max_sessions}, "
                          "start it at or after {earliest} ({span_days} days after the "
                          f"earliest {one} in its span), or drop {a(one)} {one} from the span.")
            earliest = view.when(min(view.session(o).start for o in others) + window, s)
        msg, fix = texts(
            rule,
            f"{kind.capitalize()} session {{session}} ({{start}}) is {one} {{count}} to start "
            "in the {span_days} days up to it; the protocol allows at most {max_sessions}.",
            suggestion,
            {"session": s.id, "start": view.when(s.start, s), "end": view.when(s.end, s),
             "kind": kind, "anchor_kind": kind, "count": count, "earliest": earliest})
        yield Hit(session=s, patient=s.patient, message=msg, suggestion=fix,
                  related=tuple(sorted(others)))
