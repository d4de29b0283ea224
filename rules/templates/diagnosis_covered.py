"""diagnosis-covered: a dosed patient has a diagnosis the map covers.

The first dosing session is joined with the diagnosis map's prefixes (``indication``
facts) and the prefixes of the patient's codes (``code`` facts); the patient is
flagged, at the first dose, when no code meets an indication.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import Fact, Hit, Mark, Params, Part, View, listing, session_fact, within
from .modality_map import code_facts


def facts(view: View, params: Params) -> Sequence[Fact]:
    first = view.first_dose
    if first is None:
        return []
    keys = sorted({e.key for e in view.diagnoses.entries})
    return ([session_fact(view, first)]
            + [{"id": f"ind:{key}", "type": "indication", "key": key} for key in keys]
            + code_facts(view))


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.session << (m.type == "session"),
                  c.permit << within("session", m.type == "indication"),
                  c.later << within("session", (m.type == "code")
                                    & (m.prefix == c.permit.key)))
        def indicated(c: Any) -> None:
            mark(c.session.id)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    first = view.first_dose
    if first is None or first.id in marks:
        return
    codes = view.patient.diagnoses if view.patient else ()
    covered = sorted(e.prefix for e in view.diagnoses.entries)
    has = f"diagnoses {listing(codes, 'and')}" if codes else "no diagnosis"
    yield Hit(
        session=first,
        patient=first.patient,
        message=f"Patient {first.patient} is scheduled for dosing (first: {first.id}, "
                f"{view.when(first.start, first)}) but has {has}; the diagnosis map covers "
                f"{listing(covered)}.",
        suggestion=f"Record the diagnosis that indicates ketamine (an ICD-10-CM code under "
                   f"{listing(covered)}) or take {first.patient} off the dosing schedule.",
    )


PARTS = (Part("diagnosis-covered", define, facts),)
