"""diagnosis-covered: a dosed patient has a diagnosis the map covers.

Judged for the whole run over the distinct diagnosis sets of dosed patients, a batch
per set: a ``dosed`` fact, ``code`` facts (every prefix of the set's codes) and the
diagnosis map as ``indication`` facts (its prefixes); a witness join marks every set
with a code that meets an indication. A patient is flagged, at their first dosing
session, when their set is unmarked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind, RuleSettings, Session

from ..base import Hit, Mark, Params, Part, Row, Rows, View, listing, per_view, within
from .modality_map import diagnosis_sets, prefixes, set_codes


@per_view
def first_doses(view: View) -> dict[str, Session]:
    """Each dosed patient's first dosing session (by start, ties by id)."""
    first: dict[str, Session] = {}
    for s in view.sessions:
        if s.kind is Kind.DOSING:
            seen = first.get(s.patient)
            if seen is None or (s.start_s, s.id) < (seen.start_s, seen.id):
                first[s.patient] = s
    return first


def rows(view: View, params: Params) -> Iterator[Rows]:
    dosed = first_doses(view)
    if not dosed:
        return
    numbers = diagnosis_sets(view.schedule)
    codes = set_codes(view.schedule)
    indications: list[Row] = [("indication", key)
                              for key in sorted({e.key for e in view.diagnoses.entries})]
    for n in sorted({numbers[pid] for pid in dosed}):
        known = indications + prefixes(codes[n])
        yield [n] + [None] * len(known), (("dosed",), *known)


SHAPES = {"dosed": ("type",), "indication": ("type", "key"), "code": ("type", "prefix")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.session << (m.type == "dosed"),
                  c.permit << within("session", m.type == "indication"),
                  c.later << within("session", (m.type == "code")
                                    & (m.prefix == c.permit.key)))
        def indicated(c: Any) -> None:
            mark(c.session.id)


PARTS = (Part("diagnosis-covered", define, rows=rows, shapes=SHAPES),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    numbers = diagnosis_sets(view.schedule)
    patients = view.schedule.patient_by_id
    covered = sorted(e.prefix for e in view.diagnoses.entries)
    for pid, first in first_doses(view).items():
        if numbers[pid] in marks:
            continue
        codes = patients[pid].diagnoses
        has = f"diagnoses {listing(codes, 'and')}" if codes else "no diagnosis"
        yield Hit(
            session=first,
            patient=pid,
            message=f"Patient {pid} is scheduled for dosing (first: {first.id}, "
                    f"{view.when(first.start, first)}) but has {has}; the diagnosis map "
                    f"covers {listing(covered)}.",
            suggestion=f"Record the diagnosis that indicates ketamine (an ICD-10-CM code under "
                       f"{listing(covered)}) or take {pid} off the dosing schedule.",
        )
