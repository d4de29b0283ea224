"""spacing: consecutive sessions of a kind start at least ``min_hours`` (and, if set, at
most ``max_hours``) apart; the finding is on the later one.

Sessions carry their rank among the patient's sessions of the kind (by start, ties by
id). The first ruleset marks every pair in which a later-ranked session starts less
than ``min_hours`` after an earlier one (a violation join): a session is in such a pair
exactly when it is too close to its immediate predecessor, which starts no earlier
than any other session before it. The second marks every session that some
later-ranked session starts within ``max_hours`` of (a witness join): a session's
immediate successor starts first among the later-ranked ones, so an unmarked session
is followed too late. Two rulesets, not two rules in one: durable_rules was seen to
lose matches of several temporal rules in one ruleset.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import HOUR, Hit, Mark, Params, Part, Rows, View, seconds, span, texts, within
from ..base import noun as noun_of


def _ranked(view: View, params: Params, hours: str) -> Iterator[Rows]:
    """The sessions of the kind in order, each with its rank, start and start plus the
    parameter ``hours`` (``clear`` or ``reach``, by the part's shape), times from the
    first of them: alike courses make one batch."""
    gap = seconds(params[hours], HOUR)
    sessions = view.of_kind(params["kind"])
    if sessions:
        origin = sessions[0].start_s
        yield ([s.id for s in sessions],
               tuple([("s", i, s.start_s - origin, s.start_s - origin + gap)
                      for i, s in enumerate(sessions)]))


def min_rows(view: View, params: Params) -> Iterator[Rows]:
    return _ranked(view, params, "min_hours")


def max_rows(view: View, params: Params) -> Iterator[Rows]:
    if params.get("max_hours") is None:
        return iter(())
    return _ranked(view, params, "max_hours")


def define_min(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.first << (m.type == "s"),
                  c.later << within("first", (m.type == "s")
                                    & (m.rank > c.first.rank)
                                    & (m.start < c.first.clear)))
        def too_soon(c: Any) -> None:
            mark(("soon", c.later.id, c.first.id))


def define_max(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.first << (m.type == "s"),
                  c.later << within("first", (m.type == "s")
                                    & (m.rank > c.first.rank)
                                    & (m.start <= c.first.reach)))
        def followed_in_time(c: Any) -> None:
            mark(("reached", c.first.id))


PARTS = (Part("spacing", define_min, rows=min_rows,
              shapes={"s": ("type", "rank", "start", "clear")}),
         Part("spacing-max", define_max, rows=max_rows,
              shapes={"s": ("type", "rank", "start", "reach")}))


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    too_far = params.get("max_hours") is not None
    if not marks and not too_far:  # no session too soon, and no session can be too late
        return
    kind = params["kind"]
    ordered = view.of_kind(params["kind"])
    rank = {s.id: i for i, s in enumerate(ordered)}
    previous: dict[str, str] = {}
    for mark in marks:
        if mark[0] == "soon":
            _, later, earlier = mark
            if later not in previous or rank[earlier] > rank[previous[later]]:
                previous[later] = earlier
    reached = {mark[1] for mark in marks if mark[0] == "reached"}
    head = f"{kind.capitalize()} session {{session}} ({{start}}) starts {{gap}} after the " \
           f"previous {noun_of(kind)} {{previous}}; {noun_of(kind, True)} must start"
    for i, s in enumerate(ordered):
        if s.id in previous:
            before = view.session(previous[s.id])
            message = head + " at least {min_hours} hours apart."
            suggestion = "Move {session} to start at or after {earliest}."
        elif too_far and i > 0 and ordered[i - 1].id not in reached:
            before = ordered[i - 1]
            message = head + " at most {max_hours} hours apart."
            suggestion = "Move {session} to start at or before {latest}."
        else:
            continue
        earliest = before.start + timedelta(seconds=seconds(params["min_hours"], HOUR))
        latest = before.start + timedelta(seconds=seconds(params.get("max_hours") or 0, HOUR))
        msg, fix = texts(rule, message, suggestion, {
            "session": s.id, "start": view.when(s.start, s), "end": view.when(s.end, s),
            "kind": kind, "anchor_kind": kind, "previous": before.id,
            "gap": span(s.start - before.start), "earliest": view.when(earliest, s),
            "latest": view.when(latest, s)})
        length = s.end - s.start
        yield Hit(session=s, patient=s.patient, message=msg, suggestion=fix,
                  related=(before.id,),
                  window=("move", earliest, earliest + timedelta(days=7)) if s.id in previous
                  else ("move", max(before.end, latest - length), latest))
