"""roles: each kind of session is run by a clinician with a fitting role.

The protocol's ``roles`` table enters the ruleset as ``permit`` facts (kind, role),
the roster as ``role`` facts (the roles of the session's clinicians), and the run's
sessions as ``duty`` facts, one per (clinicians, kind) they pair. A three-way witness
join marks every duty whose clinicians hold a role its kind permits (a session of
co-therapists needs one of them to hold it); the verdict reports the sessions whose
duty is unmarked, once for each of their patients. Kinds the table does not list may be
run by anyone.

The run goes to the engine team by team (a session's clinicians; most are one): a batch
holds one team's duties, the roles its clinicians hold and the permits, so teams whose
roles and kinds of duty are alike make the same batch (``engine``), and no batch grows
with the network.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from durable.lang import c, m, ruleset, when_all

from kapcheck.protocol import RuleSettings, Schedule

from ..base import (
    Hit,
    Mark,
    Params,
    Part,
    Rows,
    View,
    listing,
    per_roster,
    per_view,
    within,
)


@per_view
def _duties(view: View, table: Mapping[str, Any]) -> set[tuple[tuple[str, ...], str]]:
    """The (clinicians, kind) duties of the view's sessions whose kind the table lists."""
    # ``_value_``, not ``value``: a plain attribute, not Enum's property (a run reads
    # it for every session).
    return {(s.clinicians, kind) for s in view.sessions if (kind := s.kind._value_) in table}


def rows(view: View, params: Params) -> Iterator[Rows]:
    table = params["roles"]
    kinds: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for team, kind in _duties(view, table):
        kinds[team].add(kind)
    permits = [(kind, role) for kind in sorted(table) for role in sorted(set(table[kind]))]
    roster = view.schedule.clinician_by_id
    for team in sorted(kinds):
        # One team per batch: the join's clinician is any one constant, and the roles
        # are those any of the team holds.
        duties = sorted(kinds[team])
        roles = sorted({r.value for cid in team for r in roster[cid].roles})
        yield ([(team, kind) for kind in duties] + [f"role:{role}" for role in roles]
               + [f"permit:{kind}:{role}" for kind, role in permits],
               tuple([("duty", "c", kind) for kind in duties]
                     + [("role", "c", role) for role in roles]
                     + [("permit", kind, role) for kind, role in permits]))


SHAPES = {"duty": ("type", "clinician", "kind"), "role": ("type", "clinician", "role"),
          "permit": ("type", "kind", "role")}


def define(name: str, mark: Mark) -> None:
    with ruleset(name):
        @when_all(c.session << (m.type == "duty"),
                  c.permit << within("session", (m.type == "permit")
                                     & (m.kind == c.session.kind)),
                  c.later << within("session", (m.type == "role")
                                    & (m.clinician == c.session.clinician)
                                    & (m.role == c.permit.role)))
        def qualified(c: Any) -> None:
            mark(c.session.id)


def qualified_clinicians(view: View, roles: Sequence[str]) -> list[str]:
    return _qualified(view.schedule, tuple(sorted(roles)))


@per_roster
def _qualified(schedule: Schedule, roles: tuple[str, ...]) -> list[str]:
    return [c.id for c in schedule.clinicians if {r.value for r in c.roles} & set(roles)]


def verdict(view: View, rule: RuleSettings, marks: set[Any]) -> Iterator[Hit]:
    params = rule.parameters
    table = params["roles"]
    roster = view.schedule.clinician_by_id
    unmarked = _duties(view, table) - marks
    if not unmarked:
        return
    for s in view.sessions:  # a group session is here once for each of its patients
        if (s.clinicians, s.kind._value_) not in unmarked:
            continue
        needed = sorted(set(table[s.kind.value]))
        who = qualified_clinicians(view, needed)
        run_by = listing([f"{cid} ({_roles_of(roster[cid])})" for cid in s.clinicians], "and")
        fix = (f"Assign {s.id} to {listing(who[:3])}" + (" (or another clinician with that "
               "role)" if len(who) > 3 else "") + "." if who
               else f"Add a clinician with the role {listing(needed)} to the roster and "
                    f"assign {s.id} to them.")
        yield Hit(
            session=s,
            patient=s.patient,
            message=f"{s.kind.value.capitalize()} session {s.id} ({view.when(s.start, s)}) is "
                    f"run by {run_by}; {s.kind.value} sessions need a {listing(needed)}.",
            suggestion=fix,
        )


def _roles_of(clinician: Any) -> str:
    has = sorted(r.value for r in clinician.roles)
    return listing(has, "and") if has else "no role"


PARTS = (Part("roles", define, rows=rows, shapes=SHAPES),)
