"""modality-map: psychotherapy and integration use a modality that fits the diagnosis.

The diagnosis map enters the ruleset as facts: an ``indication`` per map prefix and
modality, a ``code`` per prefix of each of the patient's diagnoses, and a ``use`` per
modality the patient's psychotherapy and integration sessions use. A three-way witness
join marks every used modality that an indication allows for one of the patient's
codes; the verdict reports the sessions whose modality is unmarked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind, RuleSettings, icd_key

from ..base import Fact, Hit, Mark, Params, Part, View, listing, within


def code_facts(view: View) -> list[Fact]:
    """One fact per distinct prefix of the patient's diagnosis codes."""
    codes = view.patient.diagnoses if view.patient else ()
    prefixes = sorted({icd_key(code)[:n] for code in codes for n in range(1, len(icd_key(code)) + 1)})
    return [{"id": f"code:{p}", "type": "code", "prefix": p} for p in prefixes]


def _candidates(view: View) -> list[Any]:
    return view.of_kind(Kind.PSYCHOTHERAPY, Kind.INTEGRATION)


def _modality(session: Any) -> str:
    return (session.modality or "").upper()


def facts(view: View, params: Params) -> Sequence[Fact]:
    used = sorted({_modality(s) for s in _candidates(view)})
    if not used:
        return []
    indications = sorted({(e.key, mod.upper()) for e in view.diagnoses.entries
                          for mod in e.modalities})
    return ([{"id": f"use:{mod}", "type": "use", "modality": mod} for mod in used]
            + [{"id": f"ind:{key}:{mod}", "type": "indication", "key": key, "modality": mod}
               for key, mod in indications]
            + code_facts(view))


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.session << (m.type == "use"),
                  c.permit << within("session", (m.type == "indication")
                                     & (m.modality == c.session.modality)),
                  c.later << within("session", (m.type == "code")
                                    & (m.prefix == c.permit.key)))
        def indicated(c: Any) -> None:
            mark(c.session.modality)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    codes = view.patient.diagnoses if view.patient else ()
    allowed = sorted(view.diagnoses.modalities_for(codes))
    for s in _candidates(view):
        if _modality(s) in marks:
            continue
        if allowed:
            why = (f"which the diagnosis map does not allow for {listing(codes, 'or')} "
                   f"(allowed: {', '.join(allowed)})")
            fix = (f"Deliver {s.id} as {listing(allowed)}, or record the diagnosis that "
                   f"{s.modality} is indicated for.")
        else:
            shown = f"({listing(codes, 'and')}) is" if codes else "is recorded, so none"
            why = (f"but none of the patient's diagnoses {shown} in the diagnosis map"
                   if codes else "but no diagnosis is recorded for the patient")
            fix = ("Record the patient's indication for ketamine-assisted therapy (an ICD-10-CM "
                   "code of the diagnosis map) or remove the session.")
        yield Hit(
            session=s,
            patient=s.patient,
            message=f"{s.kind.value.capitalize()} session {s.id} "
                    f"({view.when(s.start, s)}) uses {s.modality}, {why}.",
            suggestion=fix,
        )


PARTS = (Part("modality-map", define, facts),)
