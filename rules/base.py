"""What every rule module shares: its metadata, the view of one partition, hits.

A rule module holds ``RULE`` (its metadata, declared once) and three functions:

* ``facts(view, params)``: the facts its ruleset reads, one dict each, every one of
  them handled by a condition of the ruleset (durable_rules refuses a whole batch
  that holds an unhandled fact);
* ``define(name, mark)``: the durable_rules ruleset, whose actions only call
  ``mark(...)``. It does not depend on the protocol: parameters reach it as fact
  attributes (a dose's ``due`` time, a ``policy`` fact, ``permit`` facts), so that every
  ruleset is compiled once, before any fact is asserted (a ruleset registered after
  others had run was seen to crash durable_rules);
* ``verdict(view, params, marks)``: the anchors whose findings the marks imply, as
  Hits with a message and a concrete suggestion.

Findings are built from the hits by one helper in the engine, from the rule's own
metadata and the protocol's settings, so no rule restates its ID or severity.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from attrs import Factory, field, frozen
from durable.lang import c, m

from kapcheck.protocol import Clinician, DiagnosisMap, Kind, Patient, Schedule, Session, Severity
from kapcheck.protocol.times import human_span, local_text

Params = Mapping[str, Any]
Fact = dict[str, Any]
Mark = Callable[[Any], None]
T = TypeVar("T")


class Partition(str, enum.Enum):
    """Whose sessions one engine state holds."""

    PATIENT = "patient"
    CLINICIAN = "clinician"


@frozen
class Rule:
    id: str
    title: str
    severity: Severity
    requirement: str
    rationale: str
    source: str
    parameters: Mapping[str, Any]
    reads: frozenset[str]
    anchor: str
    partition: Partition = Partition.PATIENT
    #: Each parameter's unit (protocol/params.py): what values it may hold.
    units: Mapping[str, str] = field(factory=dict)

    def requirement_text(self, params: Params) -> str:
        """The requirement sentence with the protocol's parameter values."""
        return self.requirement.format(**{k: _show(v) for k, v in params.items()})


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {' or '.join(v) if v else 'anyone'}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


@frozen
class View:
    """One partition of a run: a patient's sessions, or a clinician's day across patients.

    ``sessions`` are sorted by start, ties by id. Facts give times as whole seconds
    since ``origin`` (``origin_s``): the engine reasons on small integers (10-digit
    epoch times were seen to crash durable_rules).
    """

    key: str
    sessions: tuple[Session, ...]
    schedule: Schedule
    diagnoses: DiagnosisMap
    origin: datetime
    patient: Patient | None = None
    clinician: Clinician | None = None
    #: Sessions that start before this view's window but are still running when it
    #: opens: there only as partners of overlaps, never as anchors.
    carried: frozenset[str] = frozenset()
    origin_s: int = field(init=False, repr=False, eq=False,
                          default=Factory(lambda self: int(self.origin.timestamp()),
                                          takes_self=True))



    def of_kind(self, *kinds: Kind) -> list[Session]:
        return [s for s in self.sessions if s.kind in kinds]

    @property
    def doses(self) -> list[Session]:
        return self.of_kind(Kind.DOSING)

    @property
    def first_dose(self) -> Session | None:
        doses = self.doses
        return doses[0] if doses else None

    def session(self, session_id: str) -> Session:
        return self.schedule.session_by_id[session_id]

    def when(self, instant: datetime, zone_of: Session | None = None) -> str:
        zone = zone_of.zone if zone_of is not None else self.schedule.timezone
        return local_text(instant, zone)


def session_fact(view: View, session: Session, **extra: Any) -> Fact:
    """The engine's picture of a session: kind, times in seconds since the origin."""
    origin = view.origin_s
    # Kind is a str enum: orjson writes its value.
    return {"id": session.id, "type": "session", "kind": session.kind,
            "start": session.start_s - origin, "end": session.end_s - origin, **extra}


@frozen
class Hit:
    """An anchor that a rule flags, with what to tell the clinic."""

    session: Session | None
    patient: str
    message: str
    suggestion: str
    #: Session ids the finding is about besides the anchor (e.g. the overlapped one).
    related: tuple[str, ...] = field(factory=tuple)


def within(binding: str, conditions: Any) -> Any:
    """A join's conditions, closed by one that always holds.

    durable_rules 2.0.28 short-circuits an AND by scanning for its end marker from one
    past the failing condition (``reduceExpressionSequence`` in events.c), so when a
    join's last condition fails it reads past the expression array: valgrind shows the
    invalid read, and it segfaulted on an engine thread. Closed by a condition that
    always holds (every fact of one assertion carries the same ``sid``), no condition
    that can fail is ever last.

    The binding is named, not passed: ``c.dose`` is a mutable expression object, and
    reading two attributes from one such object yields ``dose.part.sid``.
    """
    return conditions & (m.sid == getattr(c, binding).sid)


def per_schedule(build: Callable[..., T]) -> Callable[..., T]:
    """Memoise ``build(schedule, *args)`` for the schedule being validated.

    By identity, not equality: a frozen Schedule hashes all of its sessions.
    """
    cache: dict[tuple[Any, ...], T] = {}
    current: list[Schedule] = []

    def wrapper(schedule: Schedule, *args: Any) -> T:
        if not current or current[0] is not schedule:
            cache.clear()
            current[:] = [schedule]
        if args not in cache:
            cache[args] = build(schedule, *args)
        return cache[args]

    return wrapper


def seconds(value: float, unit: float) -> int:
    """A parameter in hours, days or minutes as whole seconds.

    Exact: the protocol check refuses values that do not come to whole seconds.
    """
    return int(round(value * unit))


HOUR = 3600
DAY = 86400
MINUTE = 60


def span(delta: timedelta) -> str:
    return human_span(delta)


def listing(items: Iterable[str], conj: str = "or") -> str:
    items = list(items)
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]
