"""group-ratio: a session of a kind holds at most so many patients per clinician
(OAR 333-333-5230: a facilitator to client ratio by dose), and at most so many in all.

Each of the patient's sessions of the kind goes to the engine as its patients, its
clinicians (every clinician of the session counts) and its dose in micrograms; the
ratio enters as ``cap`` facts, one per dose row and clinician count in the batch, each
the most patients that many clinicians may hold (the ratio times the count, rounded
down: ``patients <= ratio * clinicians`` compared exactly, the ratio kept to three
decimals), and ``max_patients`` as a ``total`` fact. Violation joins mark a session
over its row's cap and one over the total. With ``by_dose_mg`` a session without
``dose_mg``, or with one below the table's first row, falls in a row whose cap no
session meets. A group session is in each of its patients' partitions (``Session.seat``),
so its finding is given once for each of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings
from kapcheck.protocol.params import ratio
from kapcheck.protocol.templates import show

from ..base import Hit, Mark, Params, Part, Rows, View, texts, within
from .min_duration import BEYOND, NO_DOSE, micrograms

#: The cap of a row no session meets: a session without a dose, or below the first row.
_NONE = -1


def dose_rows(params: Params) -> list[tuple[int, int, Any]]:
    """(from dose, to dose, ratio or None: no session fits) rows, doses in µg."""
    table = params.get("by_dose_mg")
    if not table:
        return [(NO_DOSE, BEYOND, ratio(params["max_patients_per_clinician"]))]
    doses = [micrograms(d) for d, _ in table]
    out: list[tuple[int, int, Any]] = [(NO_DOSE, 0, None)]
    if doses[0] > 0:
        out.append((0, doses[0], None))
    for i, (_, r) in enumerate(table):
        out.append((doses[i], doses[i + 1] if i + 1 < len(doses) else BEYOND, ratio(r)))
    return out


def _dose(params: Params, s: Any) -> int:
    if not params.get("by_dose_mg"):
        return 0
    return NO_DOSE if s.dose_mg is None else micrograms(s.dose_mg)


def rows(view: View, params: Params) -> Iterator[Rows]:
    sessions = view.of_kind(params["kind"])
    if not sessions:
        return
    table = dose_rows(params)
    counts = sorted({len(s.clinicians) for s in sessions})
    ids: list[Any] = []
    out: list[tuple[Any, ...]] = []
    for i, (low, high, r) in enumerate(table):
        for k in counts:
            ids.append(("cap", i, k))
            out.append(("cap", low, high, k, _NONE if r is None else math.floor(r * k)))
    if params.get("max_patients") is not None:
        ids.append("total")
        out.append(("total", int(params["max_patients"])))
    for s in sessions:
        ids.append(s.id)
        out.append(("s", len(s.patients), len(s.clinicians), _dose(params, s)))
    yield ids, tuple(out)


SHAPES = {"cap": ("type", "dose", "next", "clinicians", "most"),
          "total": ("type", "most"),
          "s": ("type", "patients", "clinicians", "dose")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.cap << (m.type == "cap"),
                  c.later << within("cap", (m.type == "s")
                                    & (m.dose >= c.cap.dose)
                                    & (m.dose < c.cap.next)
                                    & (m.clinicians == c.cap.clinicians)
                                    & (m.patients > c.cap.most)))
        def over_ratio(c: Any) -> None:
            mark((c.later.id, "ratio"))

        @when_all(c.total << (m.type == "total"),
                  c.later << within("total", (m.type == "s")
                                    & (m.patients > c.total.most)))
        def over_total(c: Any) -> None:
            mark((c.later.id, "total"))


def _row(params: Params, s: Any) -> Any:
    """The ratio of the session's row, or None (no dose, or below the first row)."""
    dose = _dose(params, s)
    for low, high, r in dose_rows(params):
        if low <= dose < high:
            return r
    raise AssertionError("rows cover every dose")


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    if not marks:
        return
    params = rule.parameters
    kind = params["kind"]
    most = params.get("max_patients")
    for s in view.of_kind(kind):
        over_ratio, over_total = (s.id, "ratio") in marks, (s.id, "total") in marks
        if not (over_ratio or over_total):
            continue
        n, k = len(s.patients), len(s.clinicians)
        r = _row(params, s)
        fields = {"session": s.id, "start": view.when(s.start, s), "end": view.when(s.end, s),
                  "kind": kind, "anchor_kind": kind, "patients": str(n), "clinicians": str(k),
                  "ratio": "" if r is None else show(float(r)), "dose_mg": show(s.dose_mg),
                  "max_patients": show(most), "needed_clinicians": "", "move_patients": ""}
        said: list[str] = []
        fixes: list[str] = []
        if over_ratio and r is None:
            if s.dose_mg is None:
                said.append("records no dose (dose_mg); the patients a clinician may have "
                            "in it depend on the dose")
                fixes.append("Record the dose of {session} (dose_mg) so that its ratio can "
                             "be checked")
            else:
                said.append("has a dose of {dose_mg} mg, below the first row of the "
                            "protocol's table of ratios")
                fixes.append("Check the dose of {session} against the protocol's table")
        elif over_ratio:
            allowed = math.floor(r * k)
            fields["needed_clinicians"] = str(math.ceil(n / r) - k)
            fields["move_patients"] = str(n - allowed)
            dose = " at a dose of {dose_mg} mg" if params.get("by_dose_mg") else ""
            said.append("has {patients} patients and {clinicians} clinician(s): more than "
                        "{ratio} patients per clinician" + dose)
            fixes.append("Add {needed_clinicians} more clinician(s) to {session}, or move "
                         "{move_patients} of its patients to another session")
        if over_total and most is not None:
            fields["move_patients"] = str(max(n - int(most), int(fields["move_patients"] or 0)))
            said.append("has {patients} patients; at most {max_patients} may take part in "
                        "one session")
            if not over_ratio or r is None:
                fixes.append("Move {move_patients} of its patients to another session")
            else:
                fixes[-1] = ("Move {move_patients} of its patients to another session (or add "
                             "{needed_clinicians} more clinician(s) if that keeps it within "
                             "{max_patients} patients)")
        message = (f"{kind.capitalize()} session {{session}} ({{start}}) "
                   + "; it ".join(said) + ".")
        suggestion = "; ".join(fixes) + "."
        msg, fix = texts(rule, message, suggestion, fields)
        yield Hit(session=s, patient=s.patient, message=msg, suggestion=fix)


PARTS = (Part("group-ratio", define, rows=rows, shapes=SHAPES),)
