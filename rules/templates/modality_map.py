"""modality-map: psychotherapy and integration use a modality that fits the diagnosis.

Judged for the whole run: a patient's verdict depends only on the set of their
diagnoses and the modality used, so the engine sees each distinct pair once. Each
distinct diagnosis set is a batch of its own: its codes as ``code`` facts (every prefix
of each), the diagnosis map as ``indication`` facts (map prefix, modality), and each
modality that its patients' psychotherapy and integration sessions use as a ``use``
fact (at most ``USES_PER_BATCH`` a batch). A three-way witness join marks every use that
an indication allows for a code of the set; the verdict reports the sessions whose use
is unmarked. A batch holds one set's facts, so the work grows with the sets and their
codes, never with their combinations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind, RuleSettings, Schedule, icd_key

from ..base import Hit, Mark, Params, Part, Row, Rows, View, listing, per_view, within

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


#: The most ``use`` facts of one batch: a set whose patients use more modalities is
#: judged in several batches, each with the set's codes and the map.
USES_PER_BATCH = 256


def prefixes(codes: Iterable[str]) -> list[Row]:
    """One ``code`` row per distinct prefix of a diagnosis set's codes."""
    return [("code", p) for p in sorted({code[:k] for code in codes
                                          for k in range(1, len(code) + 1)})]


def _modality(session: Any) -> str:
    return (session.modality or "").upper()


@per_view
def _used(view: View) -> set[tuple[int, str]]:
    """The (diagnosis set, modality) pairs the view's therapy sessions use."""
    numbers = diagnosis_sets(view.schedule)
    return {(numbers[s.patient], _modality(s)) for s in view.sessions if s.kind in _KINDS}


def rows(view: View, params: Params) -> Iterator[Rows]:
    used = _used(view)
    if not used:
        return
    by_set: dict[int, list[str]] = defaultdict(list)
    for n, mod in sorted(used):
        by_set[n].append(mod)
    indications: list[Row] = [
        ("indication", key, mod)
        for key, mod in sorted({(e.key, mod.upper()) for e in view.diagnoses.entries
                                for mod in e.modalities})]
    codes = set_codes(view.schedule)
    for n, modalities in by_set.items():
        known = indications + prefixes(codes[n])
        for i in range(0, len(modalities), USES_PER_BATCH):
            chunk = modalities[i:i + USES_PER_BATCH]
            yield ([(n, mod) for mod in chunk] + [None] * len(known),
                   tuple([("use", mod) for mod in chunk] + known))


SHAPES = {"use": ("type", "modality"), "indication": ("type", "key", "modality"),
          "code": ("type", "prefix")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.session << (m.type == "use"),
                  c.permit << within("session", (m.type == "indication")
                                     & (m.modality == c.session.modality)),
                  c.later << within("session", (m.type == "code")
                                    & (m.prefix == c.permit.key)))
        def indicated(c: Any) -> None:
            mark(c.session.id)


PARTS = (Part("modality-map", define, rows=rows, shapes=SHAPES),)


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
