"""min-clinicians: every session of a kind is run by at least so many clinicians, each
holding one of the roles (MDMA-assisted therapy: two therapists).

A patient's sessions of the kind go to the engine as ``member`` facts (a session's
clinician, numbered in the batch), the roles each of those clinicians holds as ``holds``
facts and the roles the rule accepts as ``wants`` facts (without ``roles`` every
clinician counts: each holds, and the rule wants, the role ``*``). A witness join
marks every member who holds a wanted role; the verdict gives the sessions with fewer
marked members than ``min_clinicians``. A group session is in each of its patients'
partitions (``Session.seat``), so its finding is given once for each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings

from ..base import Hit, Mark, Params, Part, Rows, View, listing, texts, within

_ANY = "*"


def rows(view: View, params: Params) -> Iterator[Rows]:
    sessions = view.of_kind(params["kind"])
    if not sessions:
        return
    wanted = params.get("roles")
    roster = view.schedule.clinician_by_id
    numbers: dict[str, int] = {}
    ids: list[Any] = []
    out: list[tuple[Any, ...]] = []
    for s in sessions:
        for cid in s.clinicians:
            if cid not in numbers:
                numbers[cid] = len(numbers)
                held = [_ANY] if wanted is None else sorted(r.value for r in roster[cid].roles)
                for role in held:
                    ids.append(("holds", cid, role))
                    out.append(("holds", numbers[cid], role))
            ids.append((s.id, cid))
            out.append(("member", numbers[cid]))
    for role in ([_ANY] if wanted is None else sorted(set(wanted))):
        ids.append(("wants", role))
        out.append(("wants", role))
    yield ids, tuple(out)


SHAPES = {"member": ("type", "clinician"), "holds": ("type", "clinician", "role"),
          "wants": ("type", "role")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.member << (m.type == "member"),
                  c.held << within("member", (m.type == "holds")
                                   & (m.clinician == c.member.clinician)),
                  c.want << within("member", (m.type == "wants") & (m.role == c.held.role)))
        def qualified(c: Any) -> None:
            mark(c.member.id)


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    kind = params["kind"]
    needed = int(params["min_clinicians"])
    roles = params.get("roles")
    for s in view.of_kind(kind):
        found = [cid for cid in s.clinicians if (s.id, cid) in marks]
        if len(found) >= needed:
            continue
        who = f"clinicians with the role {listing(sorted(set(roles)))}" if roles else "clinicians"
        fields = {"session": s.id, "start": view.when(s.start, s), "end": view.when(s.end, s),
                  "kind": kind, "anchor_kind": kind, "found": str(len(found)),
                  "needed": str(needed), "clinicians": listing(list(s.clinicians), "and")}
        msg, fix = texts(
            rule,
            f"{kind.capitalize()} session {{session}} ({{start}}) is run by {{found}} of the "
            f"{{needed}} {who} it needs ({{clinicians}}).",
            f"Add {needed - len(found)} more of the {who} to {{session}}.", fields)
        yield Hit(session=s, patient=s.patient, message=msg, suggestion=fix)


PARTS = (Part("min-clinicians", define, rows=rows, shapes=SHAPES),)
