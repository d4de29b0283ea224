"""Proposals: sessions to add, move and cancel on a booked schedule (``kapcheck/proposal@1``).

A proposal is read against the booked schedule it changes: its sessions pass the same
reader and the same invariants as any schedule's (protocol/checks.py), naive times are
read in the booked schedule's timezone, and every problem is reported at once, named
by its place (``move[0].start``). A move names a session and the fields that change;
the rest keep their values, and a session moved to a new start without a new end or
duration keeps its length.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from attrs import frozen

from .checks import check_schedule
from .documents import Places, parse_structured, read_bytes, sniff_format
from .errors import Problems, ScheduleError
from .limits import shown
from .loader import in_file_order
from .model import Schedule, Session
from .reading import SESSION_KEYS, _Reader, _session

SCHEMA = "kapcheck/proposal@1"
KEYS = ("schema", "add", "move", "cancel")


@frozen
class Proposal:
    """A checked change: the sessions it adds (new ids), the new versions of the sessions
    it moves (same ids), and the ids it cancels."""

    add: tuple[Session, ...] = ()
    move: tuple[Session, ...] = ()
    cancel: tuple[str, ...] = ()

    @property
    def removed(self) -> set[str]:
        """Ids whose booked version the proposal takes away (moved or cancelled)."""
        return {s.id for s in self.move} | set(self.cancel)

    @property
    def added(self) -> tuple[Session, ...]:
        """The sessions the proposal puts in (added, and moved to their new version)."""
        return self.add + self.move

    def apply(self, booked: Schedule) -> Schedule:
        """The booked schedule as the proposal leaves it (order: booked, then added)."""
        moved = {s.id: s for s in self.move}
        gone = set(self.cancel)
        sessions = tuple(moved.get(s.id, s) for s in booked.sessions if s.id not in gone)
        schedule = attrs.evolve(booked, sessions=sessions + self.add)
        object.__setattr__(schedule, "checked", True)  # its changes were checked
        return schedule


def load_proposal(source: str | Path, booked: Schedule, stdin: Any = None) -> Proposal:
    """A proposal file (YAML or JSON; ``-`` is standard input) against the booked schedule."""
    name = "<stdin>" if str(source) == "-" else str(source)
    problems = Problems(name)
    data = read_bytes(source, problems, stdin)
    found: list[Places] = []
    doc = parse_structured(data, sniff_format(name, data), problems, found) \
        if data is not None else None
    if doc is None:
        raise ScheduleError(problems.items)
    r = _Reader(problems)
    top = r.mapping(doc, "", KEYS)
    try:
        if top is None:
            raise ScheduleError(problems.items)
        if top.get("schema") not in (None, SCHEMA):
            problems.add("schema", f"expected {SCHEMA}, got {shown(top.get('schema'))}")
        return proposal_from(top.get("add"), top.get("move"), top.get("cancel"), booked,
                             file=name, problems=problems)
    except ScheduleError as exc:  # with lines, in the order they stand in the file
        raise ScheduleError(in_file_order(list(exc.problems),
                                          {name: found[0]} if found else {})) from None


def proposal_from(add: Any, move: Any, cancel: Any, booked: Schedule, *,
                  file: str = "<proposal>", problems: Problems | None = None) -> Proposal:
    """A proposal from plain data (sessions as dicts shaped like a document's, or as
    Session objects); ScheduleError listing every problem."""
    problems = problems if problems is not None else Problems(file)
    r = _Reader(problems)
    tz = ZoneInfo(booked.timezone) if booked.timezone else None
    places: list[tuple[str, str]] = []
    added: list[Session] = []
    for i, item in enumerate(r.sequence(add, "add", "sessions to add")):
        session = _one(r, item, f"add[{i}]", tz, file)
        if session is not None:
            added.append(session)
            places.append((file, f"add[{i}]"))
    moved: list[Session] = []
    move_places: list[tuple[str, str]] = []
    for i, item in enumerate(r.sequence(move, "move", "sessions to move")):
        session = _moved(r, item, f"move[{i}]", booked, tz, file)
        if session is not None:
            moved.append(session)
            move_places.append((file, f"move[{i}]"))
    cancelled: list[str] = []
    for i, sid in enumerate(r.sequence(cancel, "cancel", "session ids")):
        text = r.ident(sid, f"cancel[{i}]")
        if text is None:
            continue
        if text not in booked.session_by_id:
            problems.add(f"cancel[{i}]", f"no booked session with id {shown(text)} to cancel")
        elif text in cancelled:
            problems.add(f"cancel[{i}]", f"session {shown(text)} is cancelled twice")
        else:
            cancelled.append(text)
    for i, s in enumerate(added):
        if s.id in booked.session_by_id:
            problems.add(f"{places[i][1]}.id", f"session {shown(s.id)} is booked already; "
                                               "move it instead of adding it")
    seen_moves: set[str] = set()
    for i, s in enumerate(moved):
        if s.id in cancelled or s.id in seen_moves:
            problems.add(f"{move_places[i][1]}.id", f"session {shown(s.id)} is moved twice or "
                                                    "both moved and cancelled")
        seen_moves.add(s.id)
    r.finish()
    # The sessions it puts in keep every invariant of a schedule (one shared check).
    changed = Schedule(sessions=tuple(added + moved), sources=(file,))
    where = places + move_places
    cross = check_schedule(changed, lambda _c, i: where[min(i, len(where) - 1)], roster=False,
                           known=booked)
    items = problems.items + cross
    if items:
        raise ScheduleError(items)
    return Proposal(add=tuple(added), move=tuple(moved), cancel=tuple(cancelled))


def _one(r: _Reader, item: Any, path: str, tz: ZoneInfo | None,
         file: str) -> Session | None:
    if isinstance(item, Session):
        return item
    before, naive = len(r.problems.items), r.naive
    fields = _session(r, item, path, tz)
    if fields is None or len(r.problems.items) > before or r.naive > naive:
        return None
    try:
        return Session(**fields, source=f"{file}: {path}")
    except (ValueError, TypeError) as exc:
        r.problems.add(path, str(exc))
        return None


def _moved(r: _Reader, item: Any, path: str, booked: Schedule,
           tz: ZoneInfo | None, file: str) -> Session | None:
    """The new version of a booked session: its fields, changed as the move says."""
    if isinstance(item, Session):
        if item.id not in booked.session_by_id:
            r.problems.add(f"{path}.id", f"no booked session with id {shown(item.id)} to move")
            return None
        return item
    m = r.mapping(item, path, SESSION_KEYS, required=("id",))
    if m is None:
        return None
    sid = r.ident(m.get("id"), f"{path}.id")
    if sid is None:
        return None
    old = booked.session_by_id.get(sid)
    if old is None:
        r.problems.add(f"{path}.id", f"no booked session with id {shown(sid)} to move")
        return None
    merged: dict[str, Any] = _as_document(old)
    changes = {k: v for k, v in m.items() if k != "id"}
    for one in ("patient", "clinician"):  # either form replaces the session's people
        if one in changes or one + "s" in changes:
            merged.pop(one, None)
            merged.pop(one + "s", None)
    if "start" in changes and "end" not in changes and "duration" not in changes:
        changes["duration"] = merged["duration"]  # moved whole: it keeps its length
    if "end" in changes or "duration" in changes:
        merged.pop("end", None)
        merged.pop("duration", None)
    merged.update(changes)
    return _one(r, merged, path, tz, file)


def _as_document(s: Session) -> dict[str, Any]:
    """A session as a document would write it (times in UTC, length as a duration)."""
    seconds = int((s.end - s.start) / timedelta(seconds=1))
    doc: dict[str, Any] = {"id": s.id, "kind": s.kind.value,
                           "start": s.start.isoformat(), "duration": f"PT{seconds}S"}
    doc.update({"patients": list(s.patients)} if len(s.patients) > 1 else {"patient": s.patient})
    doc.update({"clinicians": list(s.clinicians)} if len(s.clinicians) > 1
               else {"clinician": s.clinician})
    for key in ("modality", "route", "dose_mg", "room"):
        value = getattr(s, key)
        if value is not None:
            doc[key] = value.value if hasattr(value, "value") else value
    return doc
