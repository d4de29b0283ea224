"""modality-map: psychotherapy and integration use a modality that fits the diagnosis.

Judged once for the whole run: a patient's verdict depends only on the set of their
diagnoses and the modality used, so the engine sees each distinct pair once. The
diagnosis map enters the ruleset as ``indication`` facts (map prefix, modality); each
distinct diagnosis set as ``code`` facts (every prefix of each of its codes, tagged
with the set); each distinct (set, modality) that a psychotherapy or integration
session uses as a ``use`` fact. A three-way witness join marks every use that an
indication allows for a code of its set; the verdict reports the sessions whose use is
unmarked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind, RuleSettings, Schedule, icd_key

from ..base import Fact, Hit, Mark, Params, Part, View, listing, per_view, within

_KINDS = (Kind.PSYCHOTHERAPY, Kind.INTEGRATION)


def diagnosis_sets(schedule: Schedule) -> dict[str, int]:
    """Patient id -> the number of their distinct (sorted, normalised) diagnosis set."""
    return _numbered(schedule)[0]


def set_codes(schedule: Schedule) -> dict[int, tuple[str, ...]]:
    """A diagnosis set's number -> its codes."""
    return _numbered(schedule)[1]


def _numbered(schedule: Schedule) -> tuple[dict[str, int], dict[int, tuple[str, ...]]]:
    # Kept for the roster it was computed from (a proposal's schedule shares its booked
    # roster), so that checking a proposal does not number every patient again. One
    # tuple, read and replaced whole: safe when threads validate different rosters.
    global _CACHE
    cached = _CACHE
    if cached is not None and cached[0] is schedule.patients:
        return cached[1], cached[2]
    numbers: dict[tuple[str, ...], int] = {}
    sets = {p.id: numbers.setdefault(tuple(sorted({icd_key(c) for c in p.diagnoses})),
                                     len(numbers))
            for p in schedule.patients}
    codes = {n: key for key, n in numbers.items()}
    _CACHE = (schedule.patients, sets, codes)
    return sets, codes


_CACHE: tuple[Any, dict[str, int], dict[int, tuple[str, ...]]] | None = None


def code_facts(sets: Iterable[tuple[tuple[str, ...], int]]) -> list[Fact]:
    """One fact per distinct prefix of each diagnosis set's codes."""
    return [{"id": f"code:{n}:{p}", "type": "code", "set": n, "prefix": p}
            for codes, n in sets
            for p in sorted({code[:k] for code in codes for k in range(1, len(code) + 1)})]


def _modality(session: Any) -> str:
    return (session.modality or "").upper()


@per_view
def _used(view: View) -> set[tuple[int, str]]:
    """The (diagnosis set, modality) pairs the view's therapy sessions use."""
    numbers = diagnosis_sets(view.schedule)
    return {(numbers[s.patient], _modality(s)) for s in view.sessions if s.kind in _KINDS}


def facts(view: View, params: Params) -> Sequence[Fact]:
    used = sorted(_used(view))
    if not used:
        return []
    wanted = {n for n, _ in used}
    indications = sorted({(e.key, mod.upper()) for e in view.diagnoses.entries
                          for mod in e.modalities})
    codes = set_codes(view.schedule)
    return ([{"id": f"use:{n}:{mod}", "type": "use", "set": n, "modality": mod}
             for n, mod in used]
            + [{"id": f"ind:{key}:{mod}", "type": "indication", "key": key, "modality": mod}
               for key, mod in indications]
            + code_facts((codes[n], n) for n in sorted(wanted)))


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.session << (m.type == "use"),
                  c.permit << within("session", (m.type == "indication")
                                     & (m.modality == c.session.modality)),
                  c.later << within("session", (m.type == "code")
                                    & (m.set == c.session.set)
                                    & (m.prefix == c.permit.key)))
        def indicated(c: Any) -> None:
            mark((c.session.set, c.session.modality))


PARTS = (Part("modality-map", define, facts),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    if _used(view) <= marks:
        return
    numbers = diagnosis_sets(view.schedule)
    patients = view.schedule.patient_by_id
    for s in view.sessions:
        if s.kind not in _KINDS or (numbers[s.patient], _modality(s)) in marks:
            continue
        codes = patients[s.patient].diagnoses
        allowed = sorted(view.diagnoses.modalities_for(codes))
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
