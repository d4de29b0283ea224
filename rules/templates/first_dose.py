"""first-dose: the patient's first session of a kind gives at most ``max_dose_mg``
(SPRAVATO: 56 mg first).

The first session of the kind goes to the engine with its dose in micrograms (a dose
the session does not record is sent as more than any limit: a missing dose is a
finding), beside a ``limit`` fact; a violation join marks a first dose above the limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import Hit, Mark, Params, Part, Rows, View, texts, within

#: A missing dose, in micrograms: above any limit a protocol may set (100,000 mg).
_UNRECORDED = 10**12


def micrograms(mg: Any) -> int:
    return int(round(float(mg) * 1000))


def rows(view: View, params: Params) -> Iterator[Rows]:
    s = view.first_of(params["kind"])
    if s is None:
        return
    dose = micrograms(s.dose_mg) if s.dose_mg is not None else _UNRECORDED
    yield [s.id, None], (("first", dose), ("limit", micrograms(params["max_dose_mg"])))


SHAPES = {"first": ("type", "dose"), "limit": ("type", "most")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.limit << (m.type == "limit"),
                  c.later << within("limit", (m.type == "first")
                                    & (m.dose > c.limit.most)))
        def over(c: Any) -> None:
            mark(c.later.id)


PARTS = (Part("first-dose", define, rows=rows, shapes=SHAPES),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    s = view.first_of(params["kind"])
    if s is None or s.id not in marks:
        return
    kind = params["kind"]
    given = f"gives {s.dose_mg:g} mg" if s.dose_mg is not None else "records no dose_mg"
    msg, suggestion = texts(
        rule,
        f"First {kind} session {{session}} ({{start}}) {given}; the first may give at most "
        "{max_dose_mg} mg.",
        "Start the course at {max_dose_mg} mg or less (record the session's dose_mg).",
        {"session": s.id, "start": view.when(s.start, s), "end": view.when(s.end, s),
         "kind": kind, "anchor_kind": kind,
         "dose_mg": f"{s.dose_mg:g}" if s.dose_mg is not None else "none"})
    yield Hit(session=s, patient=s.patient, message=msg, suggestion=suggestion)
