"""The pipeline that reads one run's schedule documents into the model, with every
problem named.

1. Each source is read as bytes and given to its format's reader: ``structured`` (YAML,
   JSON), ``csvfiles`` (kapcheck's CSV, rosters, a practice system's export), ``ical``,
   ``fhir``, ``caldav``. A reader turns bytes into records with their places (``reading``:
   ``_Raw``, ``_Placed``), or, for an export, into ``mapping.Entry`` records.
2. The mapping step (``_map``, ``mapping.session_of``) makes each export entry a session
   or sets it aside, once the whole run's roster is known.
3. The shared check (``checks.check_schedule``) holds the whole run to the invariants
   every schedule keeps, in ``_build``.

One run may read several files: their rosters and sessions are validated together, so a
roster may stand in one file and the sessions that name it in another. All problems of
all files are raised together as one ScheduleError.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from . import caldav, fhir, gcpause, ical
from .checks import check_schedule
from .csvfiles import _read_csv_export, _read_csv_roster, _read_csv_sessions
from .documents import STDIN, Places, parse_structured, read_bytes, sniff_format
from .errors import Problem, Problems, ScheduleError
from .limits import shown
from .mapping import DEFAULT as DEFAULT_MAPPING
from .mapping import ExportMapping, People, check_people, load_mapping, session_of
from .model import Schedule, Session, Skipped
from .reading import (  # noqa: F401 - re-exported: the documents' keys, read by docs and tests
    CLINICIAN_KEYS,
    CSV_CLINICIAN_COLUMNS,
    CSV_PATIENT_COLUMNS,
    CSV_SESSION_COLUMNS,
    PATIENT_KEYS,
    SESSION_KEYS,
    TOP_KEYS,
    WAIVER_KEYS,
    _add_session,
    _clinician,
    _patient,
    _Pending,
    _Placed,
    _quick_session,
    _Raw,
    _Reader,
    _session,
)
from .records import decode_run  # noqa: F401 - re-exported for the tests of the runs
from .structured import _lines, _read_streamed, _read_structured, _read_waiver_file, _utf8
from .times import zone

Source = str | Path

#: JSON documents from this size on are first read session by session (``_read_streamed``).
STREAM_MIN_BYTES = 1 << 20


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
