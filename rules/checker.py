"""``Checker``: a validated schedule that answers "what does this change break?".

It validates the booked schedule once and keeps its findings grouped by the partition
that produced them: a patient (rules read one patient's sessions, or judge each
session by its patient and clinician alone) or a clinician's day (double bookings).
A proposal re-evaluates only what it can affect: the patients of every session it
adds, moves (before and after) or cancels, and the clinician-days those sessions start
or end on. Every other finding is the booked one, unchanged. ``propose`` changes
nothing; ``commit`` makes a proposal's schedule the booked one.

A finding's identity is (rule, patient, session, related sessions): ``introduced`` are
the proposed schedule's findings whose identity the booked report lacks, ``resolved``
the booked report's findings the proposed one lacks.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from operator import attrgetter
from typing import Any

import attrs

from kapcheck.protocol import Problem, Protocol, Schedule, ScheduleError, Session, Severity, gcpause
from kapcheck.protocol.checks import ensure_valid
from kapcheck.protocol.limits import (
    MAX_SESSION_LENGTH,
    MAX_SESSIONS_PER_CLINICIAN_DAY,
    MAX_SESSIONS_PER_PATIENT,
    shown,
)
from kapcheck.protocol.proposals import Proposal, proposal_from
from kapcheck.protocol.templates import TEMPLATES

from . import validate as v
from .base import Partition, View
from .report import Finding, Report, apply_waivers, sort_findings
from .templates.clinician_overlap import days_of
from .templates.room_overlap import by_room, room_names

#: The partitions whose findings belong to a window of one day (a clinician's, a room's).
_WINDOWED = (Partition.CLINICIAN, Partition.ROOM)

#: The longest session, in seconds: a session running on a day starts at most this long
#: before the day opens.
_LONGEST = int(MAX_SESSION_LENGTH.total_seconds())
#: Where a finding came from: ("patient", id) or ("clinician", id, UTC day number).
Scope = tuple[Any, ...]
Identity = tuple[str, str | None, str | None, tuple[str, ...]]


def identity(f: Finding) -> Identity:
    return (f.rule, f.patient, f.session, tuple(sorted(f.related)))


class Change:
    """What a proposal does to the booked schedule: ``introduced`` and ``resolved``
    findings, the ``report`` and the ``schedule`` as the proposal leaves them."""

    def __init__(self, introduced: tuple[Finding, ...], resolved: tuple[Finding, ...],
                 report: Report | Callable[[], Report], booked: Schedule, proposal: Proposal,
                 dropped: set[Scope], fresh: dict[Scope, list[Finding]],
                 groups: dict[str, list[Session]], base: Report) -> None:
        self.introduced = introduced
        self.resolved = resolved
        self._report = report
        self.proposal = proposal
        self._booked = booked
        #: The scopes the proposal judged again, and their findings now: what a commit
        #: changes in the checker's findings by scope (no copy of them all).
        self._dropped = dropped
        self._fresh = fresh
        self._groups = groups
        #: The booked report it was proposed on: only that checker state may commit it.
        self._base = base
        self._schedule: Schedule | None = None

    @property
    def report(self) -> Report:
        """The report of the schedule as the proposal leaves it (made on first use)."""
        if not isinstance(self._report, Report):
            self._report = self._report()
        return self._report

    @property
    def schedule(self) -> Schedule:
        """The booked schedule as the proposal leaves it (built on first use)."""
        if self._schedule is None:
            self._schedule = self.proposal.apply(self._booked)
        return self._schedule

    def fails(self, fail_on: Severity = Severity.ERROR) -> bool:
        """Whether the change introduces an unwaived finding at or above ``fail_on``."""
        return any(f.severity.rank >= fail_on.rank and not f.waived for f in self.introduced)

    def __repr__(self) -> str:
        return (f"Change(introduced={len(self.introduced)}, resolved={len(self.resolved)}, "
                f"findings={len(self.report.findings)})")


class _Sessions(Mapping[str, Session]):
    """Sessions by id as a proposal leaves them: its new versions first, its removed
    ones gone, the booked rest."""

    def __init__(self, proposal: Proposal, booked: Mapping[str, Session]) -> None:
        self._new = {s.id: s for s in proposal.added}
        self._gone = proposal.removed - set(self._new)
        self._booked = booked

    def __getitem__(self, sid: str) -> Session:
        if sid in self._new:
            return self._new[sid]
        if sid in self._gone:
            raise KeyError(sid)
        return self._booked[sid]

    def __iter__(self) -> Iterator[str]:
        yield from self._new
        yield from (sid for sid in self._booked if sid not in self._gone and sid not in self._new)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Proposed:
    """The booked schedule as a proposal leaves it, as the touched views read it: the
    roster and waivers as booked, sessions looked up among the new ones first, the
    sessions running on a day from the booked index with the proposal's changes."""

    def __init__(self, booked: Schedule, proposal: Proposal,
                 clinician_day: Callable[[str, int], list[Session]],
                 room_day: Callable[[str, int], list[Session]],
                 booked_rooms: Mapping[str, Any]) -> None:
        self._booked = booked
        self._proposal = proposal
        self._clinician_day = clinician_day
        self._room_day = room_day
        self._booked_rooms = booked_rooms
        gone = proposal.removed
        # The rooms the proposal empties (every session of the room removed) and adds:
        # looked up among the rooms of the sessions it touches, not among every room.
        touched = {room for sid in gone if (room := booked.session_by_id[sid].room) is not None}
        self._lost = {room for room in touched
                      if all(s.id in gone for s in booked_rooms.get(room, ()))}
        self._lost -= {s.room for s in proposal.added}
        self._new_rooms = {s.room for s in proposal.added
                           if s.room is not None and s.room not in booked_rooms}
        self._rooms: list[str] | None = None
        self.session_by_id = _Sessions(proposal, booked.session_by_id)
        for name in ("clinicians", "patients", "clinician_by_id", "patient_by_id", "waivers",
                     "timezone", "clinic", "sources", "skipped"):
            setattr(self, name, getattr(booked, name))

    @property
    def rooms_changed(self) -> bool:
        """Whether the run gains or loses a room."""
        return bool(self._lost or self._new_rooms)

    @property
    def rooms(self) -> list[str]:
        """The run's rooms as the proposal leaves them (those with a session), in order."""
        if self._rooms is None:
            kept = room_names(self._booked_rooms)
            self._rooms = kept if not self.rooms_changed else sorted(
                (set(kept) - self._lost) | self._new_rooms)
        return self._rooms

    def running_for(self, day: int, clinicians: set[str]) -> list[Session]:
        """The sessions of these clinicians running on the day, as the proposal leaves them."""
        gone = self._proposal.removed
        return ([s for cid in clinicians for s in self._clinician_day(cid, day)
                 if s.id not in gone]
                + [s.seat(clinician=cid) for s in self._proposal.added
                   for cid in s.clinicians if cid in clinicians and day in _days_of(s)])

    def running_in(self, day: int, rooms: set[str]) -> list[Session]:
        """The sessions in these rooms running on the day, as the proposal leaves them."""
        gone = self._proposal.removed
        return ([s for room in rooms for s in self._room_day(room, day) if s.id not in gone]
                + [s for s in self._proposal.added
                   if s.room in rooms and day in _days_of(s)])

    def room_busy(self, room: str, s: Session) -> bool:
        """Whether a session other than ``s`` overlaps it in the room."""
        return any(o.id != s.id and o.start_s < s.end_s and s.start_s < o.end_s
                   for d in _days_of(s) for o in self.running_in(d, {room}))

    @property
    def sessions(self) -> tuple[Session, ...]:
        return self._proposal.apply(self._booked).sessions


def changes(before: Report, after: Report) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """(introduced, resolved): findings of ``after`` not in ``before``, and the reverse."""
    return changes_among(before.findings, after.findings)


def changes_among(before: Sequence[Finding],
                  after: Sequence[Finding]) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    old = {identity(f) for f in before}
    new = {identity(f) for f in after}
    return (tuple(f for f in after if identity(f) not in old),
            tuple(f for f in before if identity(f) not in new))


class Checker:
    """A booked schedule, validated once, that answers proposals incrementally."""

    def __init__(self, schedule: Schedule, protocol: Protocol, *,
                 as_of: date | None = None) -> None:
        v.check_protocol(protocol)
        with gcpause.paused():  # as validate: the collector would walk the model for nothing
            self._build(schedule, protocol, as_of)

    def _build(self, schedule: Schedule, protocol: Protocol, as_of: date | None) -> None:
        ensure_valid(schedule)
        self.protocol = protocol
        self.as_of = as_of
        self._rule_ids = {r.id for r in protocol.rules}
        self._partition = {r.id: Partition(TEMPLATES[r.template].partition)
                           for r in protocol.rules}
        self.schedule = schedule
        self._by_patient, self._by_clinician = v.group(schedule.sessions)
        #: Each room's sessions in order (when a rule reads rooms).
        self._by_room = by_room(schedule.sessions) if v._needs(protocol, Partition.ROOM) else {}
        #: Each clinician's (room's) session starts, in order, made on the first look at them.
        self._starts: dict[str, list[int]] = {}
        self._room_starts: dict[str, list[int]] = {}
        self._patient_ids = tuple(sorted(p.id for p in schedule.patients))
        raw = self._evaluate(schedule, self._by_patient, None, self._by_clinician,
                             rooms=self._by_room)
        self._raw: dict[Scope, list[Finding]] = raw
        #: UTC day -> the clinician and room scopes with a double booking that day, each
        #: as (partition, clinician or room).
        self._double: dict[int, set[tuple[str, str]]] = {}
        for key in raw:
            if key[0] != "patient":
                self._double.setdefault(key[2], set()).add((key[0], key[1]))
        self.report = self._report(schedule, raw, len(schedule.sessions))
        #: The booked report's patients and sort keys, for splicing (see _spliced).
        self._keys_of: Report | None = None
        self._patients_in_order: list[str] = []
        self._keys: list[tuple[str, Any, str, str]] = []
        self._sorted_keys()  # now, not on the first proposal (64k findings at 1M)

    def propose(self, add: Iterable[Any] | Proposal = (), move: Iterable[Any] = (),
                cancel: Iterable[str] = ()) -> Change:
        """The change the proposal makes; the checker itself is left as it was.

        Sessions are dicts shaped like a schedule document's, or Session objects; a move
        gives an id and the fields that change. Raises ScheduleError listing every
        problem of the proposal.
        """
        proposal = add if isinstance(add, Proposal) else proposal_from(
            list(add), list(move), list(cancel), self.schedule)
        booked = self.schedule
        removed = [booked.session_by_id[sid] for sid in sorted(proposal.removed)]
        touched = removed + list(proposal.added)
        patients = {pid for s in touched for pid in s.patients}
        # A session running from the day before can overlap a touched one (none lasts
        # over 24 hours), and a double booking's suggestion names the clinicians free at
        # its time: every clinician's windows on these days are looked at again.
        day_numbers = {d for s in touched
                       for d in range(s.start_s // 86400 - 1, (s.end_s - 1) // 86400 + 1)}
        gone = proposal.removed
        by_patient = {pid: _merged(self._by_patient.get(pid, ()), gone,
                                   [s.seat(patient=pid) for s in proposal.added
                                    if pid in s.patients])
                      for pid in patients}
        proposed: Any = _Proposed(booked, proposal, self._clinician_day, self._room_day,
                                  self._by_room)
        # The windows that can change: the touched clinicians' own, and those that held
        # a double booking already (its overlaps stay, its suggestion may not).
        wanted = {(cid, d) for s in touched for cid in s.clinicians for d in _days_of(s)}
        touched_again = self._suggestions_touched(day_numbers, touched)
        wanted |= {(key, d) for kind, key, d in touched_again if kind == "clinician"}
        wanted = _with_co_clinicians(wanted, proposed)
        rooms: set[tuple[str, int]] = set()
        if v._needs(self.protocol, Partition.ROOM):
            rooms = {(s.room, d) for s in touched if s.room is not None for d in _days_of(s)}
            rooms |= {(key, d) for kind, key, d in touched_again if kind == "room"}
            if proposed.rooms_changed:
                # A room the run gains or loses changes what every room conflict's
                # suggestion may name: each is judged again (a new room is rare).
                rooms |= {(key, d) for d, held in self._double.items()
                          for kind, key in held if kind == "room"}
        windows = {d: _windows(proposed, d, {cid for cid, day in wanted if day == d})
                   for d in sorted(day_numbers)}
        room_windows = {d: _room_windows(proposed, d, {r for r, day in rooms if day == d})
                        for d in sorted({d for _, d in rooms})}
        _check_partitions(by_patient, windows)
        fresh = self._evaluate(proposed, by_patient, windows, room_windows=room_windows)
        scopes: set[Scope] = {("patient", pid) for pid in patients} | {
            ("clinician", cid, day) for cid, day in wanted} | {
            ("room", r, day) for r, day in rooms}
        sessions = len(booked.sessions) + len(proposal.add) - len(proposal.cancel)
        if booked.waivers:
            # A waiver can match, or stop matching, findings anywhere: judge them all.
            raw = {k: v for k, v in self._raw.items() if k not in scopes}
            raw.update(fresh)
            full = self._report(proposed, raw, sessions)
            introduced, resolved = changes(self.report, full)
            report: Report | Callable[[], Report] = full
        else:
            # Every finding outside the touched partitions is the booked one, in order:
            # only those inside are compared. The report with them spliced into place is
            # made when it is asked for: at a million sessions copying its findings is
            # most of a proposal's time, and "what does this break?" needs none of it.
            new = sort_findings(f for found in fresh.values() for f in found)
            drop, taken = self._dropped(patients, scopes)
            introduced, resolved = changes_among(taken, new)
            base = self.report

            def report() -> Report:
                return attrs.evolve(base, findings=self._spliced(base, drop, new),
                                    sessions=sessions)
        return Change(introduced, resolved, report, booked, proposal, scopes, fresh,
                      by_patient, self.report)

    def commit(self, change: Change) -> None:
        """Make the change's schedule the booked one. Only a change proposed on the
        current booked schedule can be committed."""
        if change._base is not self.report:
            raise ValueError("this change was proposed on another booked schedule; "
                             "propose it again")
        proposal = change.proposal
        touched = [self.schedule.session_by_id[sid] for sid in proposal.removed] + \
            list(proposal.added)
        self._by_patient = {**self._by_patient, **change._groups}
        gone = proposal.removed
        by_clinician = dict(self._by_clinician)
        for cid in {c for s in touched for c in s.clinicians}:
            by_clinician[cid] = _merged(self._by_clinician.get(cid, ()), gone,
                                        [s.seat(clinician=cid) for s in proposal.added
                                         if cid in s.clinicians])
            self._starts.pop(cid, None)
        self._by_clinician = by_clinician
        if self._by_room or any(s.room is not None for s in proposal.added):
            rooms = dict(self._by_room)
            for room in {s.room for s in touched if s.room is not None}:
                rooms[room] = _merged(self._by_room.get(room, ()), gone,
                                      [s for s in proposal.added if s.room == room])
                self._room_starts.pop(room, None)
            self._by_room = {room: mine for room, mine in rooms.items() if mine}
        for key in change._dropped:
            if self._raw.pop(key, None) is not None and key[0] != "patient":
                self._double.get(key[2], set()).discard((key[0], key[1]))
        self._raw.update(change._fresh)
        for key in change._fresh:
            if key[0] != "patient":
                self._double.setdefault(key[2], set()).add((key[0], key[1]))
        self.schedule = change.schedule
        self.report = change.report

    def _suggestions_touched(self, days: set[int],
                             touched: Sequence[Session]) -> set[tuple[str, str, int]]:
        """The clinician (room) windows on these days holding a double booking whose
        suggestion the proposal may change, as (partition, clinician or room, day): it
        names the colleagues (rooms) free during the booked session, so only one that a
        touched session overlaps in time, run by a clinician who shares a role with the
        double-booked one (in a room, for a room's): whose availability then is what
        changed."""
        by_id = self.schedule.session_by_id
        roster = self.schedule.clinician_by_id
        out = set()
        for day in days:
            for kind, key in self._double.get(day, ()):
                if kind == "clinician":
                    roles = roster[key].roles
                    movers = [t for t in touched
                              if any(roster[c].roles & roles for c in t.clinicians)]
                else:
                    movers = [t for t in touched if t.room is not None]
                if not movers:
                    continue
                for f in self._raw.get((kind, key, day), ()):
                    a = by_id[f.session] if f.session else None
                    if a is not None and any(a.start_s < t.end_s and t.start_s < a.end_s
                                             for t in movers):
                        out.add((kind, key, day))
                        break
        return out

    def _room_day(self, room: str, day: int) -> list[Session]:
        """The booked sessions in the room running on the UTC day (as ``_clinician_day``)."""
        return _running_on(self._by_room.get(room, ()), self._room_starts, room, day)

    def _clinician_day(self, cid: str, day: int) -> list[Session]:
        """The booked sessions of the clinician running on the UTC day: found by
        bisection in their sessions in order of start (none lasts over 24 hours), not
        from an index of every clinician's every day."""
        return _running_on(self._by_clinician.get(cid, ()), self._starts, cid, day)

    def _sorted_keys(self) -> tuple[list[str], list[tuple[str, Any, str, str]]]:
        """The booked findings' patients and sort keys, in report order (built once per
        booked report)."""
        if self._keys_of is not self.report:
            self._patients_in_order = [f.patient or "" for f in self.report.findings]
            self._keys = [f.sort_key for f in self.report.findings]
            self._keys_of = self.report
        return self._patients_in_order, self._keys

    def _dropped(self, patients: set[str], scopes: set[Scope],
                 ) -> tuple[set[int], list[Finding]]:
        """The booked findings of the touched partitions (the touched patients' and the
        double bookings in the touched clinician windows): their places in the report,
        and they. The report is sorted by patient first, so a patient's findings are one
        run of it: found by bisection, not by a scan of every finding."""
        booked = self.report.findings
        in_order, keys = self._sorted_keys()
        drop: set[int] = set()
        for pid in patients:
            for i in range(bisect.bisect_left(in_order, pid), bisect.bisect_right(in_order, pid)):
                f = booked[i]
                # A double booking belongs to its clinicians' windows (dropped below
                # when wanted), which the proposal may not touch even when it touches
                # the patient.
                if self._partition.get(f.rule) in _WINDOWED and f.session:
                    continue
                drop.add(i)
        for scope in scopes:
            if scope[0] == "patient":
                continue
            for f in self._raw.get(scope, ()):
                key = f.sort_key
                i = bisect.bisect_left(keys, key)
                # Among the findings of its sort key; one another window gave too (a
                # session of co-clinicians) may be that window's, not this one's.
                while i < len(booked) and keys[i] == key and booked[i] is not f:
                    i += 1
                if i < len(booked) and booked[i] is f:
                    drop.add(i)
        return drop, [booked[i] for i in sorted(drop)]

    def _spliced(self, report: Report, drop: set[int],
                 new: Sequence[Finding]) -> tuple[Finding, ...]:
        """The booked report's findings less those at ``drop``, with the new ones
        inserted where sorting puts them (ties after the booked findings of equal key, as
        a stable sort leaves them)."""
        booked = report.findings
        keys = self._sorted_keys()[1] if report is self.report else [f.sort_key for f in booked]
        inserts = sorted(((bisect.bisect_right(keys, f.sort_key), n, f)
                          for n, f in enumerate(new)), key=lambda t: (t[0], t[1]))
        out: list[Finding] = []
        previous, at = 0, 0
        for point in sorted(drop | {p for p, _, _ in inserts}):
            out.extend(booked[previous:point])
            while at < len(inserts) and inserts[at][0] == point:
                out.append(inserts[at][2])
                at += 1
            previous = point + 1 if point in drop else point
        out.extend(booked[previous:])
        out.extend(f for _, _, f in inserts[at:])
        return tuple(out)

    def _evaluate(self, schedule: Schedule, by_patient: Mapping[str, list[Session]],
                  windows: Mapping[int, Mapping[str, tuple[list[Session], list[Session]]]] | None,
                  by_clinician: Mapping[str, list[Session]] | None = None,
                  rooms: Mapping[str, list[Session]] | None = None,
                  room_windows: Mapping[int, Mapping[str, tuple[list[Session], list[Session]]]]
                  | None = None) -> dict[Scope, list[Finding]]:
        """Findings by scope of the patients given, and of every clinician's (room's)
        windows on the days given (or of all clinicians and rooms, ``by_clinician`` and
        ``rooms``)."""
        views = v.views_of(schedule, self.protocol, by_patient, by_clinician or {}, rooms,
                           whole=by_clinician is not None)
        for partition, by_day in ((Partition.ROOM, room_windows),
                                  (Partition.CLINICIAN, windows)):
            for day, by_key in (by_day or {}).items():
                for key in sorted(by_key):
                    carried, own = by_key[key]
                    sessions = tuple(carried + own)
                    if own and len(sessions) > 1:
                        views[partition].append(View(
                            key=f"{partition.value} {key} on day {day}", sessions=sessions,
                            schedule=schedule, diagnoses=self.protocol.diagnoses,
                            origin=sessions[0].start, carried=frozenset(s.id for s in carried),
                            **({"room": key} if partition is Partition.ROOM else
                               {"clinician": schedule.clinician_by_id.get(key)})))
        out: dict[Scope, list[Finding]] = {}
        settings_of = {r.id: r for r in self.protocol.rules}
        for rule_id, hits in v._run(self.protocol, views):
            partition = self._partition[rule_id]
            for hit in hits:
                finding = v._finding(settings_of[rule_id], hit)
                if partition is Partition.CLINICIAN and hit.session is not None:
                    scope: Scope = ("clinician", hit.session.clinician,
                                    hit.session.start_s // 86400)
                elif partition is Partition.ROOM and hit.session is not None:
                    scope = ("room", hit.session.room, hit.session.start_s // 86400)
                else:
                    scope = ("patient", hit.patient)
                out.setdefault(scope, []).append(finding)
        return out

    def _report(self, schedule: Schedule, raw: Mapping[Scope, list[Finding]],
                sessions: int) -> Report:
        findings = [f for found in raw.values() for f in found]
        findings = apply_waivers(findings, schedule, self._rule_ids, self.as_of)
        return Report(
            protocol_name=self.protocol.name, protocol_version=self.protocol.version,
            findings=sort_findings(findings), patients=len(schedule.patients),
            sessions=sessions, clinic=schedule.clinic, as_of=self.as_of,
            patient_ids=self._patient_ids, skipped=schedule.skipped)


def _merged(old: Sequence[Session], gone: set[str], new: list[Session]) -> list[Session]:
    out = [s for s in old if s.id not in gone] + new
    out.sort(key=v.BY_START)
    return out


_days_of = days_of


def _running_on(mine: Sequence[Session], starts_of: dict[str, list[int]], key: str,
                day: int) -> list[Session]:
    """Of sessions in order of start (a clinician's, a room's), those running on the UTC
    day; their starts are kept in ``starts_of[key]``, made on the first look."""
    starts = starts_of.get(key)
    if starts is None:
        starts = starts_of[key] = [s.start_s for s in mine]
    opens = day * 86400
    lo = bisect.bisect_left(starts, opens - _LONGEST)
    hi = bisect.bisect_left(starts, opens + 86400)
    return [s for s in mine[lo:hi] if s.end_s > opens]


def _with_co_clinicians(wanted: set[tuple[str, int]],
                        proposed: _Proposed) -> set[tuple[str, int]]:
    """The clinician windows wanted, with those of every co-clinician of a session that
    starts in one (to the closure): the double bookings of a session of several
    clinicians are one finding from any of their windows (``sort_findings``), so they
    are judged again together or not at all."""
    out = set(wanted)
    todo = sorted(wanted)
    while todo:
        cid, day = todo.pop()
        for s in proposed.running_for(day, {cid}):
            if len(s.clinicians) > 1 and s.start_s // 86400 == day:
                for other in s.clinicians:
                    if (other, day) not in out:
                        out.add((other, day))
                        todo.append((other, day))
    return out

def _windows(proposed: _Proposed, day: int,
             clinicians: set[str]) -> dict[str, tuple[list[Session], list[Session]]]:
    """Each of these clinicians' window on a day: (sessions carried in from the day
    before and still running, sessions starting that day), each in order."""
    return _by_day(proposed.running_for(day, clinicians), day, _CLINICIAN)


def _room_windows(proposed: _Proposed, day: int,
                  rooms: set[str]) -> dict[str, tuple[list[Session], list[Session]]]:
    """Each of these rooms' window on a day, as ``_windows``."""
    return _by_day(proposed.running_in(day, rooms), day, _ROOM)


_CLINICIAN = attrgetter("clinician")
_ROOM = attrgetter("room")


def _by_day(running: list[Session], day: int,
            key: Callable[[Session], Any]) -> dict[str, tuple[list[Session], list[Session]]]:
    """Sessions running on a day, by clinician (room): (those carried in from the day
    before, those starting that day), each in order (by start, ties by id)."""
    out: dict[str, tuple[list[Session], list[Session]]] = {}
    opens = day * 86400
    for s in sorted(running, key=lambda s: (s.start_s, s.id)):
        carried, own = out.setdefault(key(s), ([], []))
        (own if s.start_s >= opens else carried).append(s)
    return out


def _check_partitions(by_patient: Mapping[str, list[Session]],
                      windows: Mapping[int, Mapping[str, tuple[list[Session], list[Session]]]],
                      ) -> None:
    """The partition bounds of protocol/limits.py, for the partitions a proposal changes."""
    problems = []
    for pid, sessions in by_patient.items():
        if len(sessions) > MAX_SESSIONS_PER_PATIENT:
            problems.append(Problem("<proposal>", "add", f"patient {shown(pid)} would have "
                                    f"more than {MAX_SESSIONS_PER_PATIENT} sessions"))
    for by_cid in windows.values():
        for cid, (_, own) in by_cid.items():
            if len(own) > MAX_SESSIONS_PER_CLINICIAN_DAY:
                problems.append(Problem("<proposal>", "add", f"clinician {shown(cid)} would "
                                        f"start more than {MAX_SESSIONS_PER_CLINICIAN_DAY} "
                                        "sessions on one day"))
    if problems:
        raise ScheduleError(problems)
