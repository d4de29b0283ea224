"""What every reader of schedules shares: the records a document contributes before
they are checked together (``_Raw``, ``_Placed``), the field-by-field reader that names
every problem's place (``_Reader``), and the builders of the model's items from
document-shaped mappings (clinicians, patients with their records, sessions, waivers).

The format readers (``structured`` for YAML and JSON, ``csvfiles``, ``ical``, ``fhir``,
``caldav``) turn bytes into these; ``loader`` runs the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from attrs import define, field

from .checks import ICD_CODE
from .errors import Problems, Where, did_you_mean, join_path
from .limits import ECHO_CHARS, MAX_NAME_CHARS, MAX_SESSION_LENGTH, MAX_TEXT_CHARS, shown
from .mapping import Entry
from .model import (
    MODALITY_KINDS,
    RECORD_NAME,
    Clinician,
    Kind,
    Patient,
    Role,
    Route,
    Session,
    Skipped,
    Waiver,
)
from .records import SessionRecord, record
from .times import (
    DURATION_FORMS,
    NaiveTimeError,
    parse_date,
    parse_duration,
    parse_instant,
    zone,
)

SCHEMA = "kapcheck/schedule"
SCHEMA_MAJOR = 1
_SCHEMA = re.compile(r"^kapcheck/schedule@(\d+)(?:\.\d+)*$")

TOP_KEYS = ("schema", "clinic", "timezone", "clinicians", "patients", "sessions", "waivers")
CLINICIAN_KEYS = ("id", "roles")
PATIENT_KEYS = ("id", "diagnoses", "records")
SESSION_KEYS = ("id", "patient", "patients", "kind", "start", "end", "duration", "clinician",
                "clinicians", "modality", "route", "dose_mg", "room")
WAIVER_KEYS = ("rule", "session", "patient", "reason", "approved_by", "expires")
CSV_SESSION_COLUMNS = SESSION_KEYS
CSV_PATIENT_COLUMNS = PATIENT_KEYS
CSV_CLINICIAN_COLUMNS = CLINICIAN_KEYS



def _choices(enum: Iterable[Any]) -> str:
    return " | ".join(str(e) for e in enum)


@define
class _Placed:
    """A value and where it was written."""

    value: Any
    file: str
    path: str
    line: int | None = None

    @property
    def where(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}: {self.path}"
        return f"{self.file}: {self.path}"


@define
class _Raw:
    """What one document contributed, before cross-references are checked."""

    clinic: str | None = None
    timezone: str | None = None
    clinicians: list[_Placed] = field(factory=list)
    patients: list[_Placed] = field(factory=list)
    sessions: list[_Placed] = field(factory=list)
    #: A streamed document's sessions instead, each with its source set: the k-th was
    #: written at ``sessions[k]`` of ``file`` (a place each cost a million sessions a
    #: second).
    indexed: list[Session] | None = None
    file: str = ""
    waivers: list[_Placed] = field(factory=list)
    #: Entries of an export that the mapping set aside.
    skipped: list[Skipped] = field(factory=list)
    #: Ids of sessions written with problems: they exist, so nothing that names
    #: them is reported as naming nothing.
    broken_sessions: set[str] = field(factory=set)
    #: One text object for each distinct patient, clinician and modality: a network's
    #: sessions repeat them (about 150 MB at a million sessions when each is its own).
    texts: dict[str, str] = field(factory=dict)
    #: Each distinct time text of the document (and start with duration) read once, as
    #: the instant and its seconds since the epoch: a clinic's slots repeat.
    times: dict[Any, tuple[datetime, int]] = field(factory=dict)


class _Reader:
    """Checks one document's shape; records problems instead of raising.

    A document without a timezone whose times have no offset gets one problem, at its
    first such time, not one per session (``finish`` counts the rest into it)."""

    def __init__(self, problems: Problems, naive_hint: str | None = None) -> None:
        self.problems = problems
        self.naive_hint = naive_hint
        self.naive = 0
        self._naive_at = -1

    def finish(self) -> None:
        if self.naive > 1:
            first = self.problems.items[self._naive_at]
            others = self.naive - 1
            self.problems.items[self._naive_at] = attrs.evolve(
                first, message=first.message + f"; {others} more time{'s' if others > 1 else ''}"
                f" of this file {'have' if others > 1 else 'has'} no offset either")

    def mapping(self, value: Any, path: str, keys: Sequence[str],
                required: Sequence[str] = ()) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.problems.add(path, f"expected a mapping with keys {', '.join(keys)}, "
                                    f"got {_kind(value)}")
            return None
        for key in value:
            if key not in keys:
                self.problems.add(join_path(path, str(key)[:ECHO_CHARS]),
                                  f"unknown key; expected one of {', '.join(keys)}"
                                  + did_you_mean(key, keys))
        for key in required:
            if value.get(key) is None:
                self.problems.add(join_path(path, key), "is required")
        return value

    def sequence(self, value: Any, path: str, what: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.add(path, f"expected a list of {what}, got {_kind(value)}")
            return []
        return value

    def ident(self, value: Any, path: Where) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            if value is not None:
                self.problems.add(path, f"expected an id (text), got {_kind(value)}")
            return None
        text = str(value).strip()
        if not text:
            self.problems.add(path, "expected an id, got empty text")
            return None
        return text

    def text(self, value: Any, path: Where, what: str = "text") -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problems.add(path, f"expected {what}, got {_kind(value)}")
            return None
        if len(value) > MAX_TEXT_CHARS:
            self.problems.add(path, f"expected {what} of at most {MAX_TEXT_CHARS} characters")
            return None
        return value.strip()

    def enum(self, value: Any, path: Where, enum: Any) -> Any:
        if value is None:
            return None
        member = _MEMBERS[enum].get(value) if isinstance(value, str) else None
        if member is None:
            self.problems.add(path, f"expected one of {_choices(enum)}, got {shown(value)}"
                              + did_you_mean(value, _MEMBERS[enum]))
        return member

    def instant(self, value: Any, path: Where, tz: ZoneInfo | None) -> datetime | None:
        if value is None:
            return None
        try:
            return parse_instant(value, tz)
        except NaiveTimeError as exc:
            self.naive += 1
            if self.naive == 1:
                self._naive_at = len(self.problems.items)
                self.problems.add(path, f"{shown(value)} has no UTC offset and "
                                        f"{self.naive_hint}" if self.naive_hint else str(exc))
        except ValueError as exc:
            self.problems.add(path, str(exc))
        return None


#: Enum members by value: a dict look-up, not Enum's slow call, for every session.
_MEMBERS: dict[Any, dict[str, Any]] = {e: {m.value: m for m in e} for e in (Kind, Route, Role)}


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return shown(value)


def _sessions_zone(raw: Any, problems: Problems, fallback: str | None) -> ZoneInfo | None:
    name = raw if raw is not None else fallback
    if name is None:
        return None
    try:
        return zone(name)
    except ValueError as exc:
        problems.add("timezone", str(exc))
        # Read the times in UTC so that the bad name is reported once, not once per
        # naive time; the problem above keeps the document from being validated.
        return ZoneInfo("UTC")


def _clinician(r: _Reader, item: Any, path: str) -> Clinician | None:
    m = r.mapping(item, path, CLINICIAN_KEYS, required=("id",))
    if m is None:
        return None
    cid = r.ident(m.get("id"), join_path(path, "id"))
    roles = []
    for j, role in enumerate(r.sequence(m.get("roles"), join_path(path, "roles"), "roles")):
        value = r.enum(role, f"{path}.roles[{j}]", Role)
        if value is not None:
            roles.append(value)
    return Clinician(cid, frozenset(roles)) if cid else None


def _diagnosis(r: _Reader, code: Any, path: str) -> str | None:
    if isinstance(code, str) and ICD_CODE.match(code.strip().upper()):
        return code.strip().upper()
    r.problems.add(path, f"expected an ICD-10-CM code such as F33.2, got {_kind(code)}")
    return None


def _patient(r: _Reader, item: Any, path: str) -> Patient | None:
    m = r.mapping(item, path, PATIENT_KEYS, required=("id",))
    if m is None:
        return None
    pid = r.ident(m.get("id"), join_path(path, "id"))
    codes = []
    for j, code in enumerate(r.sequence(m.get("diagnoses"), join_path(path, "diagnoses"),
                                        "ICD-10-CM codes")):
        value = _diagnosis(r, code, f"{path}.diagnoses[{j}]")
        if value is not None:
            codes.append(value)
    records = _records(r, m.get("records"), join_path(path, "records"))
    return Patient(pid, tuple(codes), records) if pid else None


def _records(r: _Reader, value: Any, path: str) -> tuple[tuple[str, date], ...]:
    """A patient's dated records: ``{name: date}`` (``name=date;name=date`` in CSV)."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        r.problems.add(path, "expected a mapping of record name to date, such as "
                             "{rems-enrollment: 2026-01-05, consent: 2026-01-02}")
        return ()
    out = []
    for name, day in value.items():
        where = f"{path}.{str(name)[:ECHO_CHARS]}"
        if not isinstance(name, str) or not RECORD_NAME.match(name):
            r.problems.add(where, "a record name is lower-case letters, digits and hyphens, "
                                  f"starting with a letter (at most 64), got {shown(name)}")
            continue
        try:
            out.append((name, day if isinstance(day, date) and not isinstance(day, datetime)
                        else parse_date(day)))
        except (ValueError, TypeError):
            r.problems.add(where, f"expected a date such as 2026-01-05, got {shown(day)}")
    return tuple(sorted(out))


def _session(r: _Reader, item: Any, path: str, tz: ZoneInfo | None) -> dict[str, Any] | None:
    m = r.mapping(item, path, SESSION_KEYS, required=("id", "kind", "start"))
    if m is None:
        return None
    sid = r.ident(m.get("id"), (path, "id"))
    patients = _people(r, m, path, "patient")
    clinicians = _people(r, m, path, "clinician")
    room = _room(r, m.get("room"), (path, "room"))
    kind = r.enum(m.get("kind"), (path, "kind"), Kind)
    start = r.instant(m.get("start"), (path, "start"), tz)
    end = None
    has_end, has_duration = m.get("end") is not None, m.get("duration") is not None
    if has_end and has_duration:
        r.problems.add(path, "give either end or duration, not both")
    elif not has_end and not has_duration:
        r.problems.add((path, "end"), f"is required (or duration: {DURATION_FORMS})")
    elif has_end:
        end = r.instant(m.get("end"), (path, "end"), tz)
    else:
        try:
            length = parse_duration(m.get("duration"))
        except ValueError as exc:
            r.problems.add((path, "duration"), str(exc))
        else:
            if length.total_seconds() <= 0:
                r.problems.add((path, "duration"), "expected a duration longer than zero")
            elif length > MAX_SESSION_LENGTH:
                r.problems.add((path, "duration"), "a session lasts at most "
                               f"{MAX_SESSION_LENGTH.total_seconds() / 3600:g} hours")
            elif start is not None:
                end = start + length
    if start is not None and end is not None and end <= start:
        r.problems.add((path, "end"), "a session ends after it starts; this one ends "
                                            "at or before its start")
    modality = r.text(m.get("modality"), (path, "modality"), "a modality such as CBT")
    if modality is None and kind in MODALITY_KINDS and m.get("modality") is None:
        r.problems.add((path, "modality"), f"is required for {kind} sessions "
                                                 "(a modality such as CBT, PDT or PE)")
    route = r.enum(m.get("route"), (path, "route"), Route)
    if m.get("route") is not None and kind is not None and kind is not Kind.DOSING:
        r.problems.add((path, "route"), f"applies to dosing sessions only, not {kind}")
    dose = _dose(r, m.get("dose_mg"), (path, "dose_mg"))
    return {"id": sid, "patient": patients[0] if patients else None, "patients": patients,
            "clinician": clinicians[0] if clinicians else None, "clinicians": clinicians,
            "kind": kind, "start": start, "end": end, "modality": modality, "route": route,
            "dose_mg": dose, "zone": tz.key if tz else None, "room": room}


def _people(r: _Reader, m: Mapping[str, Any], path: str, one: str) -> tuple[str, ...] | None:
    """A session's patients (or clinicians): ``patient: P-1`` or ``patients: [P-1, P-2]``
    (one of the two), each id once; None when they are not sound (each problem added)."""
    many = one + "s"
    single, listed = m.get(one), m.get(many)
    if single is not None and listed is not None:
        r.problems.add(path, f"give either {one} or {many}, not both")
        return None
    if single is not None:
        ident = r.ident(single, (path, one))
        return None if ident is None else (ident,)
    if listed is None:
        r.problems.add((path, one), f"is required (or {many}: a list of ids)")
        return None
    if not isinstance(listed, (list, tuple)):
        r.problems.add((path, many), f"expected a list of {one} ids, got {_kind(listed)}")
        return None
    if not listed:
        r.problems.add((path, many), f"expected at least one {one} id, got an empty list")
        return None
    out: list[str] = []
    first: dict[str, int] = {}
    sound = True
    for j, value in enumerate(listed):
        where = (path, f"{many}[{j}]")
        ident = r.ident(value, where)
        if ident is None:
            sound = False
            if value is None:
                r.problems.add(where, f"expected a {one} id, got nothing")
        elif ident in first:
            r.problems.add(where, f"{one} {shown(ident)} is listed twice in one session "
                                  f"(first at {many}[{first[ident]}])")
            sound = False
        else:
            first[ident] = j
            out.append(ident)
    return tuple(out) if sound else None


def _room(r: _Reader, value: Any, path: Where) -> str | None:
    """A session's room: a name of at most MAX_NAME_CHARS characters."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        r.problems.add(path, f"expected a room's name (text), got {_kind(value)}")
        return None
    name = str(value).strip()
    if len(name) > MAX_NAME_CHARS:
        r.problems.add(path, f"a room's name is at most {MAX_NAME_CHARS} characters; this one "
                             f"has {len(name)}")
        return None
    return name


_DECIMAL = re.compile(r"^\d{1,9}(?:\.\d{1,9})?$")


def _dose(r: _Reader, value: Any, path: Where) -> float | None:
    """A dose in mg: a number (JSON) or its text (YAML, CSV); range checked with the model."""
    if value is None:
        return None
    if isinstance(value, str) and _DECIMAL.match(value.strip()):
        number = float(value.strip())
        return int(number) if number.is_integer() else number
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    r.problems.add(path, f"expected a dose in mg such as 25 or 0.5, got {_kind(value)}")
    return None


def _quick_session(item: Any, tz: ZoneInfo | None, texts: dict[str, str],
                   times: dict[Any, tuple[datetime, int]],
                   source: str | None = None) -> Session | None:
    """The session of a record, or of a mapping, written as most are (ids and texts as
    text without surrounding spaces, known kind and route, times that read, a dose as a
    number), built without the reader's bookkeeping; None for anything else, which the
    reader then goes through field by field and reports. It accepts a subset of what
    ``_session`` accepts and builds the same session from it."""
    if type(item) is not SessionRecord:
        item = record(item)
        if item is None:
            return None
    sid, patient, clinician, kind = item.id, item.patient, item.clinician, item.kind
    start_text, end_text, length_text = item.start, item.end, item.duration
    modality, route = item.modality, item.route
    group = team = None
    if patient is None or clinician is None:  # a group or co-therapists (SPEC §11)
        group, team = _listed(patient, item.patients), _listed(clinician, item.clinicians)
        if group is None or team is None:
            return None
        patient, clinician = group[0], team[0]
    elif item.patients is not None or item.clinicians is not None:
        return None
    # The record's types are checked: text, ids not empty, kind and route known.
    if (sid.strip() != sid or patient.strip() != patient or clinician.strip() != clinician
            or (end_text is None) == (length_text is None)
            or (route is not None and kind is not Kind.DOSING)):
        return None
    if modality is None:
        if kind in MODALITY_KINDS:
            return None
    elif modality.strip() != modality:
        return None
    room = item.room
    if room is not None and room.strip() != room:
        return None
    try:
        start, start_s = (times.get(start_text)
                          or _timed(times, start_text, parse_instant(start_text, tz)))
        if end_text is not None:
            end, end_s = times.get(end_text) or _timed(times, end_text, parse_instant(end_text, tz))
        else:
            key = (start_text, length_text)
            known = times.get(key)
            if known is None:
                length = parse_duration(length_text)
                if not _NO_TIME < length <= MAX_SESSION_LENGTH:
                    return None
                known = _timed(times, key, start + length)
            end, end_s = known
    except ValueError:  # NaiveTimeError too: the reader reports each
        return None
    if end <= start:
        return None
    shared = texts.setdefault
    return Session._from_checked(
        sid, shared(patient, patient), kind, start, end, shared(clinician, clinician),
        None if modality is None else shared(modality, modality), route, item.dose_mg,
        tz.key if tz else None, start_s, end_s, source,
        patients=None if group is None or len(group) < 2
        else tuple(shared(p, p) for p in group),
        clinicians=None if team is None or len(team) < 2
        else tuple(shared(c, c) for c in team),
        room=None if room is None else shared(room, room))


def _listed(one: str | None, many: list[str] | None) -> list[str] | None:
    """A record's ``patient`` or ``patients`` (one of the two) as a list of ids written
    plainly, each once; None for anything else, which the reader reports."""
    if (one is None) == (many is None):
        return None
    people = [one] if one is not None else many
    assert people is not None
    if not people or len(set(people)) != len(people) or any(p.strip() != p for p in people):
        return None
    return people


#: The most time texts one document's reading keeps at once.
_TIMES_KEPT = 65_536


def _timed(times: dict[Any, tuple[datetime, int]], key: Any,
           instant: datetime) -> tuple[datetime, int]:
    """The instant with its seconds since the epoch, kept under ``key`` (its text, or
    its start and duration texts)."""
    if len(times) >= _TIMES_KEPT:
        times.clear()
    timed = times[key] = (instant, int(instant.timestamp()))
    return timed


_NO_TIME = timedelta(0)


def _add_session(raw: _Raw, r: _Reader, item: Any, file: str, path: str,
                 tz: ZoneInfo | None) -> None:
    """The session, built at once (a large file's records are not held beside its
    sessions), if its fields are sound; else its id, kept as broken."""
    session = _session_of(raw, r, item, path, tz)
    if session is not None:
        raw.sessions.append(_Placed(session, file, path))


def _session_of(raw: _Raw, r: _Reader, item: Any, path: str,
                tz: ZoneInfo | None) -> Session | None:
    """The session, if its fields are sound; else None, its problems reported and its
    id kept as broken."""
    return _quick_session(item, tz, raw.texts, raw.times) or _read_session(raw, r, item, path, tz)


def _read_session(raw: _Raw, r: _Reader, item: Any, path: str,
                  tz: ZoneInfo | None) -> Session | None:
    """``_session_of`` for a mapping the quick path did not take: read field by field."""
    before, naive = len(r.problems.items), r.naive
    s = _session(r, item, path, tz)
    if s is None:
        return None
    if len(r.problems.items) == before and r.naive == naive:
        try:
            return Session(**s)
        except (ValueError, TypeError) as exc:  # the fields were checked: a last guard
            r.problems.add(path, str(exc))
            raw.broken_sessions.add(s["id"])
    elif s["id"] is not None:
        raw.broken_sessions.add(s["id"])
    return None


def _waiver(r: _Reader, item: Any, path: str, zone_name: str | None,
            origin: str) -> Waiver | None:
    m = r.mapping(item, path, WAIVER_KEYS, required=("rule", "reason", "approved_by"))
    if m is None:
        return None
    before = len(r.problems.items)
    rule = r.text(m.get("rule"), join_path(path, "rule"), "a rule id such as KAP-INT-001")
    session = r.ident(m.get("session"), join_path(path, "session"))
    patient = r.ident(m.get("patient"), join_path(path, "patient"))
    if (session is None) == (patient is None) and len(r.problems.items) == before:
        r.problems.add(path, "name exactly one of session or patient")
    reason = r.text(m.get("reason"), join_path(path, "reason"), "the reason for the exception")
    approved_by = r.ident(m.get("approved_by"), join_path(path, "approved_by"))
    expires = None
    if m.get("expires") is not None:
        try:
            expires = parse_date(m.get("expires"))
        except ValueError as exc:
            r.problems.add(join_path(path, "expires"), str(exc))
    if len(r.problems.items) > before or rule is None or reason is None or approved_by is None:
        return None
    return Waiver(rule=rule, reason=reason, approved_by=approved_by, session=session,
                  patient=patient, expires=expires, zone=zone_name, origin=origin)



@define
class _Pending:
    """An export's entries, read, waiting for the mapping step (which needs the whole
    run's roster)."""

    file: str
    problems: Problems
    raw: _Raw
    entries: list[Entry]
    zone: ZoneInfo | None
    #: What to tell about a time without an offset (None: the document's own advice).
    hint: str | None = None


