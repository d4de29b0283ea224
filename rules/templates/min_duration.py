"""min-duration: each session of a kind lasts at least a minimum; with ``by_dose_mg``
the minimum depends on the session's dose.

The minimums enter the ruleset as ``row`` facts, each covering doses from ``dose`` up
to (not including) ``next``; sessions carry their dose and length, and the ruleset
marks every session shorter than the row that covers its dose (a violation join).
Without a table one row covers every session. With a table, the minimum is that of
the last row whose dose is at or below the session's; a dose below the first row's
takes ``min_minutes``; a session without ``dose_mg`` falls in a row no length can
satisfy, so it is flagged too. Doses travel as whole micrograms: the engine compares
integers only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings
from kapcheck.protocol.templates import show

from ..base import MINUTE, Hit, Mark, Params, Part, Rows, View, seconds, span, texts, within

#: Above any dose (µg) and any length (s) a schedule can hold.
BEYOND = 10**12
#: The dose a session without ``dose_mg`` is given: below every row but the one that
#: flags it.
NO_DOSE = -1


def micrograms(dose_mg: float) -> int:
    return int(round(dose_mg * 1000))


def rows(params: Params) -> list[tuple[int, int, int]]:
    """(from dose, to dose, minimum seconds) rows, doses in µg."""
    floor = seconds(params["min_minutes"], MINUTE)
    table = params.get("by_dose_mg")
    if not table:
        return [(NO_DOSE, BEYOND, floor)]
    doses = [micrograms(d) for d, _ in table]
    out = [(NO_DOSE, 0, BEYOND)]  # no dose recorded: always too short
    if doses[0] > 0:
        out.append((0, doses[0], floor))
    for i, (_, minutes) in enumerate(table):
        out.append((doses[i], doses[i + 1] if i + 1 < len(doses) else BEYOND,
                    seconds(minutes, MINUTE)))
    return out


def required(params: Params, session: Any) -> int | None:
    """The minimum length in seconds for this session; None when it has no dose."""
    dose = NO_DOSE if params.get("by_dose_mg") and session.dose_mg is None \
        else micrograms(session.dose_mg or 0)
    for low, high, floor in rows(params):
        if low <= dose < high:
            return None if floor == BEYOND else floor
    raise AssertionError("rows cover every dose")


def batch(view: View, params: Params) -> Iterator[Rows]:
    sessions = view.of_kind(params["kind"])
    if not sessions:
        return
    table = bool(params.get("by_dose_mg"))
    dose_rows = rows(params)
    yield ([f"row:{i}" for i in range(len(dose_rows))] + [s.id for s in sessions],
           tuple([("row", low, high, floor) for low, high, floor in dose_rows]
                 + [("s", s.end_s - s.start_s,
                     (NO_DOSE if s.dose_mg is None else micrograms(s.dose_mg)) if table else 0)
                    for s in sessions]))


SHAPES = {"row": ("type", "dose", "next", "floor"), "s": ("type", "length", "dose")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.row << (m.type == "row"),
                  c.later << within("row", (m.type == "s")
                                    & (m.dose >= c.row.dose)
                                    & (m.dose < c.row.next)
                                    & (m.length < c.row.floor)))
        def too_short(c: Any) -> None:
            mark(c.later.id)


PARTS = (Part("min-duration", define, rows=batch, shapes=SHAPES),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    if not marks:  # no session too short
        return
    params = rule.parameters
    kind = params["kind"]
    what = "dose plus monitoring" if kind == "dosing" else "the session"
    for s in view.sessions:
        if s.kind != kind or s.id not in marks:
            continue
        floor = required(params, s)
        fields = {"session": s.id, "start": view.when(s.start, s), "end": view.when(s.end, s),
                  "kind": kind, "anchor_kind": kind, "length": span(s.duration),
                  "dose_mg": show(s.dose_mg), "needed": "", "latest": ""}
        if floor is None:
            message = (f"{kind.capitalize()} session {{session}} ({{start}}) records no dose "
                       "(dose_mg); the protocol's minimum length depends on the dose.")
            suggestion = "Record the dose of {session} (dose_mg) so that its minimum can be checked."
        else:
            fields["needed"] = show(floor / 60)
            fields["latest"] = view.when(s.start + timedelta(seconds=floor), s)
            need = ("a dose of {dose_mg} mg needs" if params.get("by_dose_mg")
                    and s.dose_mg is not None else f"{what} needs")
            message = (f"{kind.capitalize()} session {{session}} ({{start}}) lasts {{length}}; "
                       f"{need} at least {{needed}} minutes.")
            suggestion = "Extend {session} to end at or after {latest}."
        msg, fix = texts(rule, message, suggestion, fields)
        yield Hit(session=s, patient=s.patient, message=msg, suggestion=fix)
