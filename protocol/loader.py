"""Schedules from YAML, JSON and CSV documents into the model, with every problem named.

One run may read several files: their rosters and sessions are validated together,
so a roster may stand in one file and the sessions that name it in another. Every
problem names its file, the path inside it and what was expected; all problems of
all files are raised together as one ScheduleError.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from attrs import define, field

from . import caldav, fhir, gcpause, ical
from .checks import ICD_CODE, check_schedule
from .documents import STDIN, Places, json_members, parse_structured, read_bytes, sniff_format
from .errors import Problem, Problems, ScheduleError, Where, did_you_mean, join_path
from .limits import ECHO_CHARS, MAX_SESSION_LENGTH, MAX_TEXT_CHARS, shown
from .mapping import DEFAULT as DEFAULT_MAPPING
from .mapping import (
    Entry,
    ExportMapping,
    People,
    check_csv_header,
    check_people,
    load_mapping,
    session_of,
)
from .model import (
    MODALITY_KINDS,
    RECORD_NAME,
    Clinician,
    Kind,
    Patient,
    Role,
    Route,
    Schedule,
    Session,
    Skipped,
    Waiver,
)
from .records import SessionRecord, decode_run, record
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
SESSION_KEYS = ("id", "patient", "kind", "start", "end", "duration", "clinician", "modality",
                "route", "dose_mg")
WAIVER_KEYS = ("rule", "session", "patient", "reason", "approved_by", "expires")
CSV_SESSION_COLUMNS = SESSION_KEYS
CSV_PATIENT_COLUMNS = PATIENT_KEYS
CSV_CLINICIAN_COLUMNS = CLINICIAN_KEYS

Source = str | Path


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


def _read_structured(doc: Any, file: str, problems: Problems, cli_zone: str | None) -> _Raw:
    r = _Reader(problems)
    raw = _Raw()
    top = r.mapping(doc, "", TOP_KEYS)
    if top is None:
        return raw
    schema = top.get("schema")
    if schema is not None:
        match = _SCHEMA.match(schema) if isinstance(schema, str) else None
        if match is None:
            problems.add("schema", f"expected {SCHEMA}@{SCHEMA_MAJOR}, got {shown(schema)}")
        elif int(match.group(1)) != SCHEMA_MAJOR:
            problems.add("schema", f"schema major version {match.group(1)} is not supported; "
                                   f"this kapcheck reads {SCHEMA}@{SCHEMA_MAJOR}")
    raw.clinic = r.text(top.get("clinic"), "clinic", "the clinic's name")
    if top.get("timezone") is not None and not isinstance(top.get("timezone"), str):
        problems.add("timezone", f"expected an IANA timezone name such as America/New_York, "
                                 f"got {_kind(top.get('timezone'))}")
        tz: ZoneInfo | None = ZoneInfo("UTC")
    else:
        tz = _sessions_zone(top.get("timezone"), problems, cli_zone)
    raw.timezone = tz.key if tz and not problems else None

    for i, item in enumerate(r.sequence(top.get("clinicians"), "clinicians", "clinicians")):
        path = f"clinicians[{i}]"
        if (c := _clinician(r, item, path)) is not None:
            raw.clinicians.append(_Placed(c, file, path))
    for i, item in enumerate(r.sequence(top.get("patients"), "patients", "patients")):
        path = f"patients[{i}]"
        if (p := _patient(r, item, path)) is not None:
            raw.patients.append(_Placed(p, file, path))
    sessions = r.sequence(top.get("sessions"), "sessions", "sessions")
    for i, item in enumerate(sessions):
        _add_session(raw, r, item, file, f"sessions[{i}]", tz)
        # The document is read once: each session's mapping is let go as soon as its
        # record is made, so a large file's parsed form and records are not both held.
        sessions[i] = None
    for i, item in enumerate(r.sequence(top.get("waivers"), "waivers", "waivers")):
        path = f"waivers[{i}]"
        if (w := _waiver(r, item, path, raw.timezone, f"{file}: {path}")) is not None:
            raw.waivers.append(_Placed(w, file, path))
    r.finish()
    return raw


#: JSON documents from this size on are first read session by session (``_read_streamed``).
STREAM_MIN_BYTES = 1 << 20


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _read_streamed(text: str, file: str, cli_zone: str | None) -> _Raw | None:
    """A large JSON schedule read session by session: each session's mapping is decoded,
    made a session and let go before the next is decoded, so the whole document is never
    held beside its sessions (about 740 MiB for a million sessions).

    Only a schedule document that reads without a single problem, its timezone (if it
    names one) written before its sessions, is read so; for anything else the answer is
    None, and the document is read whole as ever, its problems reported as ever. What
    it gives is what ``_read_structured`` gives for the whole document (a test holds it
    to that).
    """
    problems = Problems(file)
    top: dict[str, Any] = {}
    streamed: _Raw | None = None
    try:
        for key, value in json_members(text, "sessions", decode_run):
            if key not in TOP_KEYS or key in top or (key == "timezone" and "sessions" in top):
                return None
            if key != "sessions":
                top[key] = value
                continue
            zone_name = top.get("timezone")
            if not isinstance(value, Iterator) or not isinstance(zone_name, (str, type(None))):
                return None
            tz = _sessions_zone(zone_name, problems, cli_zone)
            sessions: list[Session] = []
            streamed, r = _Raw(indexed=sessions, file=file), _Reader(problems)
            texts, times = streamed.texts, streamed.times
            written = f"{file}: sessions["
            for i, item in enumerate(value):
                session = (_quick_session(item, tz, texts, times, f"{written}{i}]")
                           or _read_session(streamed, r, item, f"sessions[{i}]", tz))
                if problems.items or session is None:
                    return None
                if session.source is None:
                    object.__setattr__(session, "source", f"{written}{i}]")
                sessions.append(session)
            top["sessions"] = []
    except (ValueError, RecursionError):  # not well-formed: read whole, and reported
        return None
    if streamed is None:
        return None
    raw = _read_structured(top, file, problems, cli_zone)
    if problems.items:
        return None
    raw.indexed, raw.file = streamed.indexed, file
    return raw


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
    m = r.mapping(item, path, SESSION_KEYS,
                  required=("id", "patient", "kind", "start", "clinician"))
    if m is None:
        return None
    sid = r.ident(m.get("id"), (path, "id"))
    patient = r.ident(m.get("patient"), (path, "patient"))
    clinician = r.ident(m.get("clinician"), (path, "clinician"))
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
    return {"id": sid, "patient": patient, "clinician": clinician, "kind": kind,
            "start": start, "end": end, "modality": modality, "route": route,
            "dose_mg": dose, "zone": tz.key if tz else None}


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
        tz.key if tz else None, start_s, end_s, source)


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


def _lines(raw: _Raw, places: Places) -> None:
    """Give a YAML document's sessions and waivers the line each was written on."""
    for collection, items in (("sessions", raw.sessions), ("waivers", raw.waivers)):
        lines = places.item_lines(collection)
        for p in items:
            index = int(p.path[len(collection) + 1:-1])
            if index < len(lines):
                p.line = lines[index]


_INDEXED = re.compile(r"^(\w+)\[(\d+)\]")
_LINE = re.compile(r"^line (\d+)|^VEVENT .{0,200}? \(line (\d+)\)")


def in_file_order(problems: list[Problem], places: Mapping[str, Places]) -> list[Problem]:
    """The problems file by file (in the order the files first appear), each file's in
    the order they stand in it; YAML problems with their line, column and item."""
    by_file: dict[str, list[tuple[tuple[int, int, int], int, Problem]]] = {}
    for n, p in enumerate(problems):
        located = places.get(p.file)
        if located is not None and p.line is None:
            spot = located.locate(p.path)
            if spot is not None:
                p = attrs.evolve(p, line=spot[0], column=spot[1], subject=spot[2])
        by_file.setdefault(p.file, []).append((_position(p), n, p))
    return [p for group in by_file.values() for _, _, p in sorted(group)]


def _position(p: Problem) -> tuple[int, int, int]:
    """A sort key: whole-file problems first, then by line, else by list and index."""
    if not p.path:
        return (0, 0, 0)
    if p.line is not None:
        return (1, p.line, p.column or 0)
    if (m := _LINE.match(p.path)) is not None:
        return (1, int(m.group(1) or m.group(2)), 0)
    if (m := _INDEXED.match(p.path)) is not None:
        rank = TOP_KEYS.index(m.group(1)) if m.group(1) in TOP_KEYS else 0
        return (2, rank, int(m.group(2)))
    return (1, 0, 0)


# --- CSV -----------------------------------------------------------------------------


def _csv_table(data: bytes, problems: Problems) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """A CSV file's header and its rows (line number, cells by header, blanks left out);
    problems for text that is not UTF-8 or not CSV, a header named twice, a short row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add("", f"is not UTF-8 text (byte {exc.start})")
        return [], []
    if not text.strip():
        problems.add("", "the file is empty; expected a header row and rows")
        return [], []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except (csv.Error, StopIteration) as exc:
        problems.add("line 1", f"is not a CSV header: {exc}")
        return [], []
    if len(set(header)) != len(header):
        problems.add("line 1", "a column is named twice")
        return header, []
    rows = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.add(f"line {line}", f"has {len(row)} cells; the header has {len(header)}")
                continue
            rows.append((line, {k: v.strip() for k, v in zip(header, row, strict=True) if v.strip()}))
    except csv.Error as exc:
        problems.add(f"line {reader.line_num}", f"is not valid CSV: {exc}")
    return header, rows


def _csv_rows(data: bytes, columns: Sequence[str], problems: Problems,
              required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """kapcheck's own CSV: its rows, once its header names only kapcheck's columns."""
    before = len(problems.items)
    header, rows = _csv_table(data, problems)
    if len(problems.items) != before and not rows:
        return []
    for name in header:
        if name not in columns:
            problems.add(f"line 1, column {shown(name)}", f"unknown column; expected {', '.join(columns)}")
    for name in required:
        if name not in header:
            problems.add("line 1", f"the column {name!r} is missing")
    return [] if problems else rows


def _read_csv_export(data: bytes, file: str, problems: Problems, mapping: ExportMapping,
                     tz: ZoneInfo | None, mapping_problems: Problems) -> _Pending:
    """A practice system's CSV export, read through the mapping's ``[csv]`` headers:
    each row an Entry for the mapping step; rows whose status matches ``cancelled`` are
    not sessions; columns the mapping does not name are ignored."""
    raw = _Raw(timezone=tz.key if tz else None)
    pending = _Pending(file, problems, raw, [], tz)
    header, rows = _csv_table(data, problems)
    before = len(mapping_problems.items)
    check_csv_header(mapping, header, problems, mapping_problems)
    if len(mapping_problems.items) != before:
        return pending
    col = mapping.csv
    r = _Reader(problems, naive_hint="the mapping names no timezone: give it `timezone = "
                                     "\"America/New_York\"` or pass --timezone")
    for line, row in rows:
        where = f"line {line}"
        if mapping.cancelled is not None and mapping.cancelled.search(
                row.get(col["status"], "")[:MAX_TEXT_CHARS]):
            continue
        given = {key: row[col[key]] for key in ("patient", "clinician", "kind", "modality",
                                                "route", "dose_mg")
                 if key in col and row.get(col[key])}
        times: dict[str, Any] = {}
        start = _export_time(r, row.get(col["start"]), mapping.start_format, tz,
                             (where, col["start"]), "csv.start_format")
        if start is not None:
            times["start"] = start.isoformat()
        if "end" in col:
            end = _export_time(r, row.get(col["end"]), mapping.end_format or mapping.start_format,
                               tz, (where, col["end"]), "csv.end_format")
            if end is not None:
                times["end"] = end.isoformat()
        elif "duration" in col and row.get(col["duration"]):
            length = row[col["duration"]]
            times["duration"] = f"{length}m" if length.isdecimal() else length
        code = row.get(col["code"]) if "code" in col else None
        pending.entries.append(Entry(
            id=row.get(col["id"], "") if "id" in col else f"line-{line}", where=where,
            summary=row.get(col["summary"]) if "summary" in col else None,
            codes=(code,) if code else (), given=given, times=times, cells=row))
    r.finish()
    return pending


def _export_time(r: _Reader, text: str | None, fmt: str | None, tz: ZoneInfo | None,
                 where: Where, fmt_key: str) -> datetime | None:
    """A CSV export's date and time: in ``fmt`` (strftime) if the mapping gives one,
    else ISO 8601; a time without an offset is read in ``tz``."""
    if not text:
        r.problems.add(where, "is required")
        return None
    if fmt is None:
        return r.instant(text, where, tz)
    try:
        parsed = datetime.strptime(text, fmt)
    except ValueError:
        r.problems.add(where, f"expected a date and time as {fmt!r} ({fmt_key}), "
                              f"got {shown(text)}")
        return None
    return r.instant(parsed.isoformat() if parsed.tzinfo is None else parsed.isoformat(),
                     where, tz)


def _split(cell: str | None) -> list[str]:
    return [part for part in re.split(r"[;,\s]+", cell or "") if part]


def _read_csv_sessions(data: bytes, file: str, problems: Problems, tz: ZoneInfo | None) -> _Raw:
    raw = _Raw(timezone=tz.key if tz else None)
    r = _Reader(problems, naive_hint="a CSV file names no timezone: pass --timezone (such as "
                                     "--timezone America/New_York), or validate it together "
                                     "with a schedule document that has `timezone:`")
    for line, row in _csv_rows(data, CSV_SESSION_COLUMNS, problems,
                               ("id", "patient", "kind", "start", "clinician")):
        _add_session(raw, r, row, file, f"line {line}", tz)
    r.finish()
    return raw


def _read_csv_roster(data: bytes, file: str, problems: Problems, what: str) -> _Raw:
    raw = _Raw()
    r = _Reader(problems)
    if what == "patients":
        for line, row in _csv_rows(data, CSV_PATIENT_COLUMNS, problems, ("id",)):
            item: dict[str, Any] = {"id": row.get("id"),
                                    "diagnoses": _split(row.get("diagnoses"))}
            if row.get("records"):
                item["records"] = dict(part.partition("=")[::2] for part in
                                       row["records"].split(";") if part.strip())
                item["records"] = {k.strip(): v.strip() for k, v in item["records"].items()}
            if (p := _patient(r, item, f"line {line}")) is not None:
                raw.patients.append(_Placed(p, file, f"line {line}"))
    else:
        for line, row in _csv_rows(data, CSV_CLINICIAN_COLUMNS, problems, ("id",)):
            item = {"id": row.get("id"), "roles": _split(row.get("roles"))}
            if (c := _clinician(r, item, f"line {line}")) is not None:
                raw.clinicians.append(_Placed(c, file, f"line {line}"))
    return raw


# --- the run ---------------------------------------------------------------------------


def _name(source: Source) -> str:
    if caldav.is_caldav(source):
        return caldav.shown_url(str(source))
    return "<stdin>" if str(source) == STDIN else str(source)


def _flatten(sources: tuple[Any, ...]) -> list[Source]:
    flat: list[Source] = []
    for source in sources:
        if isinstance(source, (list, tuple)):
            flat.extend(source)
        else:
            flat.append(source)
    return flat


def load_schedule(*sources: Source | Sequence[Source], timezone: str | None = None,
                  waivers: Source | None = None, patients: Source | None = None,
                  clinicians: Source | None = None, stdin: Any = None,
                  until: date | None = None,
                  mapping: Source | ExportMapping | None = None) -> Schedule:
    """Read one run's schedule documents (YAML, JSON or CSV; ``-`` is standard input).

    ``timezone`` reads naive times of documents that name none. ``waivers`` is a side
    file of waivers; ``patients`` and ``clinicians`` are CSV rosters for CSV sessions.
    ``until`` is the last day recurring calendar events are expanded to (default: 180
    days after a calendar's first event). FHIR R4 JSON and iCalendar are read too.
    ``mapping`` is a mapping file (``kapcheck/mapping@1``) or a loaded one: how exports
    (calendars, FHIR bundles, practice-system CSV) name kinds, people and fields.
    Raises ScheduleError listing every problem of every file.
    """
    files = _flatten(sources)
    if not files:
        raise ScheduleError([Problem("", "", "no schedule file given")])
    with gcpause.paused():
        return _load(files, timezone, waivers, patients, clinicians, stdin, until, mapping)


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


def _load(files: list[Source], timezone: str | None, waivers: Source | None,
          patients: Source | None, clinicians: Source | None, stdin: Any,
          until: date | None, mapping_source: Source | ExportMapping | None) -> Schedule:
    all_problems: list[Problems] = []
    raws: list[tuple[str, _Raw]] = []
    pending: list[_Pending] = []
    #: Each input's SHA-256 as read (standard input too), for the report's provenance.
    digests: list[tuple[str, str]] = []
    mapping = DEFAULT_MAPPING
    mapping_problems = Problems(str(mapping_source) if mapping_source is not None else "")
    all_problems.append(mapping_problems)
    if isinstance(mapping_source, ExportMapping):
        mapping = mapping_source
    elif mapping_source is not None:
        try:
            mapping = load_mapping(mapping_source)
        except ScheduleError as exc:
            mapping_problems.items.extend(exc.problems)
    cli_zone_problems = Problems("--timezone")
    if timezone is not None:
        try:
            zone(timezone)
        except ValueError as exc:
            cli_zone_problems.add("", str(exc))
            timezone = "UTC"  # read on, so that the bad name is the one problem reported
    all_problems.append(cli_zone_problems)

    csvs: list[tuple[str, bytes, Problems]] = []
    places: dict[str, Places] = {}
    for source in files:
        name = _name(source)
        problems = Problems(name)
        all_problems.append(problems)
        if caldav.is_caldav(source):  # a calendar collection, read as its exported .ics
            data = caldav.read(str(source), problems)
            if data is not None:
                digests.append((name, hashlib.sha256(data).hexdigest()))
                pending.append(_read_ical(data, name, problems, mapping.timezone or timezone,
                                          until))
                raws.append((name, pending[-1].raw))
            continue
        data = read_bytes(source, problems, stdin)
        if data is None:
            continue
        digests.append((name, hashlib.sha256(data).hexdigest()))
        fmt = sniff_format(name, data)
        if fmt == "csv":
            csvs.append((name, data, problems))
            continue
        if fmt == "ics":
            pending.append(_read_ical(data, name, problems, mapping.timezone or timezone,
                                      until))
            raws.append((name, pending[-1].raw))
            continue
        if fmt == "json" and len(data) >= STREAM_MIN_BYTES:
            text = _utf8(data)
            if text is not None:
                del data  # the text alone is held while the sessions are read
                streamed = _read_streamed(text, name, timezone)
                if streamed is not None:
                    del text
                    raws.append((name, streamed))
                    continue
                data = text.encode()
                del text
        found: list[Places] = []
        doc = parse_structured(data, fmt, problems, found if fmt == "yaml" else None)
        del data  # a network's file and its parsed form are large: free them early
        if fhir.is_fhir(doc):
            pending.append(_read_fhir(doc, name, problems, mapping.timezone or timezone))
            raws.append((name, pending[-1].raw))
        elif doc is not None:
            raw = _read_structured(doc, name, problems, timezone)
            if found:
                places[name] = found[0]
                _lines(raw, found[0])
            raws.append((name, raw))
        del doc
    # CSV has no timezone field: --timezone, else the one schedule document's timezone.
    doc_zones = sorted({raw.timezone for _, raw in raws if raw.timezone})
    csv_zone_name = timezone or (doc_zones[0] if len(doc_zones) == 1 else None)
    csv_zone = zone(csv_zone_name) if csv_zone_name else None
    for name, data, problems in csvs:
        if mapping.csv:
            export_zone = zone(mapping.timezone) if mapping.timezone else csv_zone
            pending.append(_read_csv_export(data, name, problems, mapping, export_zone,
                                            mapping_problems))
            raws.append((name, pending[-1].raw))
        else:
            raws.append((name, _read_csv_sessions(data, name, problems, csv_zone)))
    rosters: list[tuple[Source, str]] = [(s, what) for s, what in
                                         ((patients, "patients"), (clinicians, "clinicians"))
                                         if s is not None]
    for source, what in rosters:
        name = _name(source)
        problems = Problems(name)
        all_problems.append(problems)
        data = read_bytes(source, problems, stdin)
        if data is not None:
            digests.append((name, hashlib.sha256(data).hexdigest()))
            raws.append((name, _read_csv_roster(data, name, problems, what)))
    if waivers is not None:
        name = _name(waivers)
        problems = Problems(name)
        all_problems.append(problems)
        data = read_bytes(waivers, problems, stdin)
        if data is not None:
            digests.append((name, hashlib.sha256(data).hexdigest()))
            raws.append((name, _read_waiver_file(data, name, problems, timezone, doc_zones,
                                                 places)))

    _map(pending, mapping, raws, mapping_problems)
    problems_all = list(dict.fromkeys(p for group in all_problems for p in group.items))
    schedule, cross = _build(raws, [_name(s) for s in files])
    problems_all.extend(cross)
    if problems_all:
        raise ScheduleError(in_file_order(problems_all, places))
    object.__setattr__(schedule, "inputs", tuple(digests))
    object.__setattr__(schedule, "checked", True)
    return schedule


def _read_ical(data: bytes, file: str, problems: Problems, cli_zone: str | None,
               until: date | None) -> _Pending:
    """An iCalendar file's events (protocol/ical.py), for the mapping step."""
    raw = _Raw()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add("", f"is not UTF-8 text (byte {exc.start})")
        return _Pending(file, problems, raw, [], None)
    entries, zone_name = ical.read(text, problems, cli_zone, until)
    tz = zone(zone_name) if zone_name else None  # times are aware; the zone shows them
    raw.timezone = tz.key if tz else None
    return _Pending(file, problems, raw, entries, tz)


def _read_fhir(doc: Any, file: str, problems: Problems, cli_zone: str | None) -> _Pending:
    """A FHIR R4 Bundle or resource (protocol/fhir.py): its roster at once, its
    appointments for the mapping step."""
    r = _Reader(problems)
    raw = _Raw()
    records = fhir.read(doc, problems)
    for path, item in records["clinicians"]:
        if (c := _clinician(r, item, path)) is not None:
            raw.clinicians.append(_Placed(c, file, path))
    for path, item in records["patients"]:
        if (p := _patient(r, item, path)) is not None:
            raw.patients.append(_Placed(p, file, path))
    tz = zone(cli_zone) if cli_zone else None  # FHIR instants carry their offsets
    return _Pending(file, problems, raw, [entry for _, entry in records["sessions"]], tz,
                    hint="FHIR instants carry their offset (such as "
                         "2026-03-02T09:00:00-05:00): write it, pass --timezone, or give the "
                         "mapping file a timezone")


def _map(pending: list[_Pending], mapping: ExportMapping, raws: list[tuple[str, _Raw]],
         mapping_problems: Problems) -> None:
    """The mapping step: each export's entries made sessions (or set aside), now that
    the whole run's roster is known."""
    clinicians = {p.value.id for _, raw in raws for p in raw.clinicians}
    patients = {p.value.id for _, raw in raws for p in raw.patients}
    if mapping.people:
        check_people(mapping, clinicians | patients, mapping_problems)
    people = People(mapping, clinicians, patients)
    # Times are shown in the mapping's zone, else the export's own (a calendar's
    # X-WR-TIMEZONE, --timezone), else the run's documents' one zone, else the zone
    # each time was written in: never in UTC when a zone is known.
    documents = sorted({raw.timezone for _, raw in raws if raw.timezone
                        and not any(raw is job.raw for job in pending)})
    shown_in = zone(mapping.timezone) if mapping.timezone else None
    zones: dict[str | None, ZoneInfo | None] = {None: None}
    for job in pending:
        r = _Reader(job.problems, naive_hint=job.hint)
        fixed = shown_in or job.zone or (zone(documents[0]) if len(documents) == 1 else None)
        if fixed is not None and job.raw.timezone is None:
            job.raw.timezone = fixed.key
        for entry in job.entries:
            result = session_of(entry, mapping, people, job.problems)
            if isinstance(result, Skipped):
                job.raw.skipped.append(Skipped(f"{job.file}: {result.source}", result.reason))
            elif result is not None:
                tz = fixed
                if tz is None and entry.zone is not None and entry.zone not in zones:
                    zones[entry.zone] = zone(entry.zone)
                _add_session(job.raw, r, result, job.file, entry.where,
                             tz if tz is not None else zones[entry.zone])
            else:
                job.raw.broken_sessions.add(entry.id)
        r.finish()


def _read_waiver_file(data: bytes, name: str, problems: Problems, cli_zone: str | None,
                      doc_zones: list[str], places: dict[str, Places]) -> _Raw:
    fmt = sniff_format(name, data)
    found: list[Places] = []
    doc = parse_structured(data, fmt, problems, found if fmt == "yaml" else None)
    if found:
        places[name] = found[0]
    raw = _Raw()
    if doc is None:
        return raw
    r = _Reader(problems)
    zone_name = cli_zone or (doc_zones[0] if len(doc_zones) == 1 else None)
    items: Any = doc
    if isinstance(doc, Mapping):
        top = r.mapping(doc, "", ("waivers", "timezone"))
        if top is not None and top.get("timezone") is not None:
            try:
                zone_name = zone(top["timezone"]).key
            except ValueError as exc:
                problems.add("timezone", str(exc))
        items = doc.get("waivers")
    for i, item in enumerate(r.sequence(items, "waivers", "waivers")):
        path = f"waivers[{i}]"
        if (w := _waiver(r, item, path, zone_name, f"{name}: {path}")) is not None:
            raw.waivers.append(_Placed(w, name, path))
    return raw


def _supplemented(items: list[_Placed], what: str, problems: list[Problem]) -> list[_Placed]:
    """Clinicians (or patients) of one id from several files made one: a roster given
    beside a FHIR bundle or calendar supplements it, so one that names no roles (no
    diagnoses) takes the other's. Two that name different ones are a problem naming
    both places. Two of one id in one file stay for the shared check to report."""
    by_id: dict[str, list[int]] = {}
    for n, p in enumerate(items):
        by_id.setdefault(p.value.id, []).append(n)
    drop: set[int] = set()
    for indices in by_id.values():
        files = {items[n].file for n in indices}
        if len(indices) < 2 or len(files) != len(indices):
            continue
        stated = [n for n in indices if getattr(items[n].value, what)]
        values = {frozenset(getattr(items[n].value, what)) for n in stated}
        if len(values) > 1:
            first, other = items[stated[0]], items[stated[1]]
            problems.append(Problem(other.file, other.path, f"gives {shown(other.value.id)} "
                                    f"the {what} {_listed(getattr(other.value, what))}, and "
                                    f"{first.where} gives {_listed(getattr(first.value, what))}: "
                                    "one person, two different values"))
        keep = stated[0] if stated else indices[0]
        drop.update(n for n in indices if n != keep)
    return [p for n, p in enumerate(items) if n not in drop]


def _listed(values: Iterable[Any]) -> str:
    return "[" + ", ".join(sorted(str(getattr(v, "value", v)) for v in values)) + "]"


def _build(raws: list[tuple[str, _Raw]], names: list[str]) -> tuple[Schedule, list[Problem]]:
    """The model of the run's sound records, and the problems of the run as a whole.

    The run-wide invariants (ids unique across files, references that resolve, sizes
    and ranges) are those of every schedule, checked by the one shared step.
    """
    problems: list[Problem] = []
    placed = {
        "clinicians": _supplemented([p for _, raw in raws for p in raw.clinicians], "roles",
                                    problems),
        "patients": _supplemented([p for _, raw in raws for p in raw.patients], "diagnoses",
                                  problems),
        "waivers": [p for _, raw in raws for p in raw.waivers],
    }
    sessions: list[Session] = []
    # Where each document's sessions begin in the run's, and whose they are.
    firsts: list[int] = []
    owners: list[_Raw] = []
    for _, raw in raws:
        if not raw.sessions and not raw.indexed:
            continue
        firsts.append(len(sessions))
        owners.append(raw)
        if raw.indexed is not None:
            sessions.extend(raw.indexed)
            continue
        for p in raw.sessions:
            # Where it was written (a YAML line is known only once the document is read).
            object.__setattr__(p.value, "source", p.where)
            sessions.append(p.value)
    zones = [raw.timezone for _, raw in raws if raw.timezone]
    clinics = [raw.clinic for _, raw in raws if raw.clinic]
    whole = Schedule(
        clinicians=tuple(p.value for p in placed["clinicians"]),
        patients=tuple(p.value for p in placed["patients"]),
        sessions=tuple(sessions),
        waivers=tuple(p.value for p in placed["waivers"]),
        clinic=clinics[0] if clinics else None,
        timezone=zones[0] if zones else None,
        sources=tuple(names),
        skipped=tuple(k for _, raw in raws for k in raw.skipped),
    )

    def place(collection: str, index: int) -> tuple[str, str]:
        if collection == "sessions":
            index = min(index, len(sessions) - 1)
            k = bisect_right(firsts, index) - 1
            raw, index = owners[k], index - firsts[k]
            if raw.indexed is not None:
                return raw.file, f"sessions[{index}]"
            return raw.sessions[index].file, raw.sessions[index].path
        items = placed[collection]
        item = items[min(index, len(items) - 1)]
        return item.file, item.path

    broken = {sid for _, raw in raws for sid in raw.broken_sessions}
    problems.extend(check_schedule(whole, place, broken_sessions=broken))
    # A clinician or patient defined identically in two files of the run is one.
    clinicians = {c.id: c for c in reversed(whole.clinicians)}
    patients = {p.id: p for p in reversed(whole.patients)}
    kept_clinicians = tuple(c for c in whole.clinicians if clinicians.get(c.id) is c)
    kept_patients = tuple(p for p in whole.patients if patients.get(p.id) is p)
    if (len(kept_clinicians), len(kept_patients)) == (len(whole.clinicians), len(whole.patients)):
        return whole, problems  # no twins: the schedule as built (its indexes built once)
    return attrs.evolve(whole, clinicians=kept_clinicians, patients=kept_patients), problems
