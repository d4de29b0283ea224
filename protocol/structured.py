"""YAML and JSON schedule documents (and waiver files) into the readers' records: the
whole document read by the standard library's rules, or a large JSON one session at a
time (msgspec runs, ``records``), each session with its place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from .documents import Places, json_members, parse_structured, sniff_format
from .errors import Problems
from .limits import shown
from .model import Session
from .reading import (
    _SCHEMA,
    SCHEMA,
    SCHEMA_MAJOR,
    TOP_KEYS,
    _add_session,
    _clinician,
    _kind,
    _patient,
    _Placed,
    _quick_session,
    _Raw,
    _read_session,
    _Reader,
    _sessions_zone,
    _waiver,
)
from .records import decode_run
from .times import zone


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


def _lines(raw: _Raw, places: Places) -> None:
    """Give a YAML document's sessions and waivers the line each was written on."""
    for collection, items in (("sessions", raw.sessions), ("waivers", raw.waivers)):
        lines = places.item_lines(collection)
        for p in items:
            index = int(p.path[len(collection) + 1:-1])
            if index < len(lines):
                p.line = lines[index]



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


