"""The join shared by KAP-PREP-001 (preparation) and KAP-ASMT-001 (assessment):
sessions of one kind that end before the patient's first dose starts and start no
earlier than ``max_days_before`` days before it.

The first dosing session carries ``earliest``, the first allowed start; the ruleset
marks every session of the kind inside the window (a witness join), and each rule's
verdict counts the witnesses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import Kind

from .base import DAY, Fact, Mark, Params, View, seconds, session_fact, within


def window(params: Params) -> timedelta:
    return timedelta(seconds=seconds(params["max_days_before"], DAY))


def facts(view: View, params: Params, kind: Kind) -> Sequence[Fact]:
    first = view.first_dose
    if first is None:
        return []
    earliest = first.start_s - view.origin_s - seconds(params["max_days_before"], DAY)
    return [session_fact(view, first, earliest=earliest)] + [
        session_fact(view, s) for s in view.of_kind(kind)]


def define(name: str, mark: Mark, kind: Kind) -> None:
    with ruleset(name):
        @when_all(c.dose << (m.kind == "dosing"),
                  c.later << within("dose", (m.kind == kind.value)
                                    & (m.end <= c.dose.start)
                                    & (m.start >= c.dose.earliest)))
        def in_window(c: Any) -> None:
            mark(c.later.id)
