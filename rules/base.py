"""What every template module shares: the view of one partition, hits, texts, joins.

A template module (``rules/templates/``) implements one template of
``kapcheck.protocol.templates``: ``PARTS``, its durable_rules rulesets, each a
``Part(name, define, ...)``, and ``verdict``:

* ``rows(view, params)`` with their ``shapes``: the facts a part's ruleset reads, each
  batch as its facts' ids and their values, every one of them handled by a condition of
  the ruleset (durable_rules refuses a whole batch that holds an unhandled fact), so
  that alike partitions' batches are answered once (``Part``);
* ``define(name, mark)``: the durable_rules ruleset, whose actions only call
  ``mark(...)``. It knows no rule, kind or parameter: they reach it as fact attributes
  (an anchor's window, a ``row`` of a dose table), so that every ruleset is compiled
  once, before any fact is asserted (a ruleset registered after others had run was
  seen to crash durable_rules);
* ``verdict(view, rule, marks)``: the anchors whose findings the marks imply, as Hits
  whose message and suggestion are the rule's own wording (its protocol file) or the
  template's.

A template never knows a rule ID: the engine builds findings from the protocol's
settings, so no template restates an ID, a severity or a title.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from attrs import Factory, field, frozen
from durable.lang import c, m

from kapcheck.protocol import (
    Clinician,
    DiagnosisMap,
    Kind,
    Patient,
    RuleSettings,
    Schedule,
    Session,
)
from kapcheck.protocol.model import shown_parameters
from kapcheck.protocol.times import human_span, local_text

Params = Mapping[str, Any]
Fact = dict[str, Any]
Mark = Callable[[Any], None]
T = TypeVar("T")


#: Each rule's parameters as its texts show them, by the rule's identity (the rule is
#: kept with them, so an id is never taken for a later object's, and so are the values
#: they were shown from): a run of many findings shows them once per rule, not once per
#: finding.
_SHOWN: dict[int, tuple[RuleSettings, dict[str, Any], dict[str, str]]] = {}


def texts(rule: RuleSettings, message: str, suggestion: str,
          fields: Mapping[str, Any]) -> tuple[str, str]:
    """A finding's message and suggestion: the rule's wording if its protocol gives one,
    else the template's, with the placeholders filled in."""
    kept = _SHOWN.get(id(rule))
    if kept is None or kept[0] is not rule or kept[1] != rule.parameters:
        if len(_SHOWN) >= 64:
            _SHOWN.clear()
        kept = _SHOWN[id(rule)] = (rule, dict(rule.parameters), shown_parameters(rule))
    values = {**kept[2], **fields}
    return ((rule.message or message).format_map(values),
            (rule.suggestion or suggestion).format_map(values))


def a(noun: str) -> str:
    """The indefinite article for a noun: "an integration", "a dose"."""
    return "an" if noun[:1] in "aeiou" else "a"


def noun(kind: str, plural: bool = False) -> str:
    """How messages name sessions of a kind: a dosing session is "a dose"."""
    if kind == Kind.DOSING.value:
        return "doses" if plural else "dose"
    return f"{kind} sessions" if plural else f"{kind} session"


class Partition(str, enum.Enum):
    """Whose sessions one engine state holds."""

    PATIENT = "patient"
    CLINICIAN = "clinician"
    #: The whole run at once: the duties (clinician, kind) of every session.
    RUN = "run"
    #: A room's sessions (across patients and clinicians).
    ROOM = "room"


@frozen
class View:
    """One partition of a run: a patient's sessions, or a clinician's across patients
    (a proposal's checker gives a clinician's day, with the sessions carried into it).

    ``sessions`` are sorted by start, ties by id. Facts give times as whole seconds
    since ``origin`` (``origin_s``), or since a point of the template's own batch (its
    first dose, a day's first start): the engine reasons on small integers (10-digit
    epoch times were seen to crash durable_rules).
    """

    key: str
    sessions: tuple[Session, ...]
    schedule: Schedule
    diagnoses: DiagnosisMap
    origin: datetime
    patient: Patient | None = None
    clinician: Clinician | None = None
    #: The room whose sessions the view holds (a room's partition).
    room: str | None = None
    #: Sessions that start before this view's window but are still running when it
    #: opens: there only as partners of overlaps, never as anchors.
    carried: frozenset[str] = frozenset()
    #: Every clinician's sessions of the run in order, by clinician id, shared by the
    #: run's clinician views: a double booking's suggestion names colleagues free then.
    #: None where the schedule answers for itself (a proposal's ``running_for``).
    peers: Mapping[str, Sequence[Session]] | None = field(default=None, eq=False, repr=False)
    origin_s: int = field(init=False, repr=False, eq=False,
                          default=Factory(lambda self: int(self.origin.timestamp()),
                                          takes_self=True))
    #: The sessions by kind (its text), in order: made on the first ``of_kind``, as
    #: eight rules of a run ask a patient's view for its doses and the like.
    _by_kind: dict[str, tuple[Session, ...]] | None = field(init=False, default=None,
                                                           eq=False, repr=False)

    def of_kind(self, *kinds: str) -> Sequence[Session]:
        """The view's sessions of these kinds (names or Kind members), in order."""
        if len(kinds) != 1:
            return [s for s in self.sessions if s.kind in kinds]
        by_kind = self._by_kind
        if by_kind is None:
            lists: dict[str, list[Session]] = {}
            for s in self.sessions:  # ``_value_``: Enum's ``value`` is a property
                lists.setdefault(s.kind._value_, []).append(s)
            by_kind = {k: tuple(v) for k, v in lists.items()}
            object.__setattr__(self, "_by_kind", by_kind)  # made whole, then set: no half
        return by_kind.get(str(kinds[0]), ())

    def first_of(self, kind: str) -> Session | None:
        """The view's first session of this kind, if it has one."""
        sessions = self.of_kind(kind)
        return sessions[0] if sessions else None

    def session(self, session_id: str) -> Session:
        return self.schedule.session_by_id[session_id]

    def when(self, instant: datetime, zone_of: Session | None = None) -> str:
        zone = zone_of.zone if zone_of is not None else self.schedule.timezone
        return local_text(instant, zone)


#: A fact's values without its id, its type first (``("target", 3600)``), all of them
#: int or text: see ``Part.rows``.
Row = tuple[Any, ...]
#: One batch of a part: its facts' ids, and their rows in the same order. The ids are
#: the template's own names for its facts (a session's id, a diagnosis set's number):
#: they never reach the engine, which asserts a batch under positional ids and reads its
#: marks back into these.
Rows = tuple[Sequence[Any], tuple[Row, ...]]


@frozen
class Part:
    """One durable_rules ruleset of a template and the facts it reads: ``rows``, the
    view's batches, each given as its facts' ids and rows.

    A part's actions mark only fact ids (and constants that do not start with ``#``),
    and no fact names another's id in a field: the engine asserts a batch under
    positional ids (``#0``, ``#1``, ...), and gives an identical batch (another patient
    whose sessions stand alike: the same rows) the answer it already gave (``engine``).
    A row is a fact without its id, its values in the order its type's shape names them
    (``shapes[row[0]]``, ``type`` first), each an int or text, so that equal rows are
    equal facts.
    """

    name: str
    define: Callable[[str, Mark], None]
    rows: Callable[[View, Params], Iterable[Rows]]
    shapes: Mapping[str, tuple[str, ...]]

    def __attrs_post_init__(self) -> None:
        if not self.shapes or any(shape[:1] != ("type",) for shape in self.shapes.values()):
            raise ValueError(f"part {self.name}: rows need shapes, each naming type first")

    def facts_of(self, ids: Sequence[str], rows: Sequence[Row]) -> list[Fact]:
        """A batch's facts, each with its id. A value that is no int or text (``1.0``
        equals ``1`` as a row, not as a fact) fails it."""
        facts = []
        for fact_id, row in zip(ids, rows, strict=True):
            fact = dict(zip(self.shapes[row[0]], row, strict=True))
            if any(type(v) is not int and type(v) is not str for v in row):
                raise TypeError(f"part {self.name}: a row holds {row!r}, not only ints and text")
            fact["id"] = fact_id
            facts.append(fact)
        return facts


@frozen
class Hit:
    """An anchor that a rule flags, with what to tell the clinic."""

    session: Session | None
    patient: str
    message: str
    suggestion: str
    #: Session ids the finding is about besides the anchor (e.g. the overlapped one).
    related: tuple[str, ...] = field(factory=tuple)
    #: Where the fix is a time window: (what to book or move, earliest start, latest
    #: start); "book" a new session of a kind, or "move" the anchor.
    window: tuple[str, datetime, datetime] | None = None


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


def per_roster(build: Callable[..., T]) -> Callable[..., T]:
    """Memoise ``build(schedule, *args)`` for the roster (``schedule.clinicians``) it was
    built from: a proposal's schedule is a new object every time but shares the booked
    roster, so a walk of a 14,000-clinician roster is not made again for each proposal.

    By identity of the roster tuple; one tuple, read and replaced whole.
    """
    kept: list[tuple[Any, dict[tuple[Any, ...], T]]] = []

    def wrapper(schedule: Schedule, *args: Any) -> T:
        roster = schedule.clinicians
        current = kept[0] if kept else None
        if current is None or current[0] is not roster:
            current = (roster, {})
            kept[:] = [current]
        cache = current[1]
        if args not in cache:
            cache[args] = build(schedule, *args)
        return cache[args]

    return wrapper


def per_view(build: Callable[..., T]) -> Callable[..., T]:
    """Memoise ``build(view, *args)`` for the last view it was asked about: a run-wide
    template's facts and its verdict read the same view one after the other, and at a
    million sessions each pass over them costs about a second.

    By identity, and weakly (a finished run's schedule is not kept alive); one tuple,
    read and replaced whole.
    """
    last: tuple[weakref.ref[View], tuple[Any, ...], T] | None = None

    def wrapper(view: View, *args: Any) -> T:
        nonlocal last
        kept = last
        if kept is not None and kept[0]() is view and kept[1] == args:
            return kept[2]
        value = build(view, *args)
        last = (weakref.ref(view), args, value)
        return value

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
