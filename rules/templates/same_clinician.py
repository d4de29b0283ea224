"""same-clinician: sessions of a kind before the first anchor run by the anchor's own
clinician (Oregon: preparation with the facilitator who will administer).

The patient's first anchor session and the sessions of the kind go to the engine as one
batch, a fact for each of a session's clinicians; clinicians are numbered within the
batch (the anchor's first), so that alike courses make one batch. A witness join marks every session of the kind that ends
at or before the anchor starts and was run by one of the anchor's clinicians; the verdict
counts the sessions witnessed against ``min_sessions``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import Hit, Mark, Params, Part, Rows, View, listing, texts, within


def rows(view: View, params: Params) -> Iterator[Rows]:
    anchor = view.first_of(params["anchor"])
    if anchor is None:
        return
    numbers = {cid: i for i, cid in enumerate(anchor.clinicians)}
    targets = [s for s in view.of_kind(params["kind"]) if s is not anchor]
    for s in targets:
        for cid in s.clinicians:
            numbers.setdefault(cid, len(numbers))
    origin = anchor.start_s
    # One fact for each clinician of the anchor and of each target (co-therapists): a
    # target run by any one of the anchor's clinicians is marked.
    yield ([*[("a", cid) for cid in anchor.clinicians],
            *[(s.id, cid) for s in targets for cid in s.clinicians]],
           (*[("anchor", 0, numbers[cid]) for cid in anchor.clinicians],
            *[("target", s.end_s - origin, numbers[cid]) for s in targets
              for cid in s.clinicians]))


SHAPES = {"anchor": ("type", "start", "clinician"), "target": ("type", "end", "clinician")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.anchor << (m.type == "anchor"),
                  c.later << within("anchor", (m.type == "target")
                                    & (m.end <= c.anchor.start)
                                    & (m.clinician == c.anchor.clinician)))
        def with_them(c: Any) -> None:
            mark(c.later.id)


PARTS = (Part("same-clinician", define, rows=rows, shapes=SHAPES),)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    anchor = view.first_of(params["anchor"])
    needed = int(params["min_sessions"])
    marks = {sid for sid, _ in marks}  # a target is marked once per shared clinician
    if anchor is None or len(marks) >= needed:
        return
    kind, anchor_kind = params["kind"], params["anchor"]
    msg, suggestion = texts(
        rule,
        f"First {anchor_kind} session {{session}} ({{start}}) is run by {{clinician}}, who ran "
        f"{{found}} of the {{needed}} {kind} session(s) required before it.",
        f"Book {{needed}} {kind} session(s) with {{clinician}} that end by {{start}}, or "
        f"assign {{session}} to the clinician who prepared the patient.",
        {"session": anchor.id, "start": view.when(anchor.start, anchor),
         "end": view.when(anchor.end, anchor), "kind": kind, "anchor_kind": anchor_kind,
         "found": len(marks), "needed": needed,
         "clinician": listing(list(anchor.clinicians), "or")})
    yield Hit(session=anchor, patient=anchor.patient, message=msg, suggestion=suggestion,
              related=tuple(sorted(marks)))
