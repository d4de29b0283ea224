"""How kapcheck reads exports as they are: the mapping file, and the one mapping step.

A calendar event, a FHIR Appointment or a row of a practice system's CSV export is first
read into an ``Entry``: what the export says, with the place it says it (its summary,
its codes, its people as written, its times). The mapping step then makes each entry a
session, or sets it aside, the same way for every format:

1. ``[[skip]]`` rules, in order: the first whose every condition holds sets the entry
   aside; it is listed in the report's ``skipped``, never dropped silently.
2. ``[[session]]`` rules, in order: the first whose every condition holds sets the
   fields it names (kind, modality, route, dose_mg); a ``summary`` regex's named groups
   ``patient`` and ``clinician`` name those people.
3. The defaults of SPEC §8: a code naming a kind is the kind, another code the modality,
   ``X-KAPCHECK-*`` properties, the ORGANIZER the clinician and the one attendee who is
   not a clinician of the roster the patient.
4. People: an e-mail (any case, with or without ``mailto:``), then a display name, then
   a FHIR reference, in ``[people]``; else a roster id written as the name; else the name
   as written (the shared check then says no such clinician or patient exists).

An entry no rule and no default maps is an input error naming it, with the closest kind
("did you mean"). The mapping file itself (``kapcheck/mapping@1``, TOML) is checked
whole: an unknown key, a regex that does not compile, a ``[people]`` entry naming no
roster id, a ``[csv]`` header the file lacks: every problem at once, with file and key.
A mapping never makes kapcheck read another file or a URL.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs
from attrs import frozen

from .documents import read_bytes
from .errors import Problem, Problems, ScheduleError, did_you_mean
from .limits import MAX_NAME_CHARS, MAX_SMALL_FILE_BYTES, shown
from .model import Kind, Skipped
from .times import zone

SCHEMA = "kapcheck/mapping@1"
KINDS = tuple(k.value for k in Kind)
#: The session fields a ``[[session]]`` rule may set.
SETS = ("kind", "modality", "route", "dose_mg", "room")
#: A rule's conditions.
CONDITIONS = ("summary", "code", "field", "all_day")
#: kapcheck's fields a ``[csv]`` table maps to an export's headers, and its other keys.
CSV_FIELDS = ("id", "start", "end", "duration", "patient", "clinician", "code", "summary",
              "status", "modality", "kind", "route", "dose_mg", "room")
CSV_KEYS = (*CSV_FIELDS, "cancelled", "start_format", "end_format")
TOP = ("schema", "timezone", "session", "skip", "people", "csv")
#: Regular expressions are matched against at most this much text, and are at most
#: this long: the standard library's engine can backtrack without bound.
MAX_PATTERN_CHARS = 500
MAX_MATCHED_CHARS = 2000
#: Rules of one kind in a mapping file; entries of [people].
MAX_RULES = 500
MAX_PEOPLE = 10_000


@frozen
class Rule:
    """A ``[[session]]`` or ``[[skip]]`` rule: its conditions, what it sets, its place."""

    index: int
    kind: str  # "session" or "skip"
    summary: re.Pattern[str] | None = None
    code: str | None = None
    field: str | None = None
    all_day: bool | None = None
    sets: Mapping[str, Any] = attrs.field(factory=dict)

    def describe(self) -> str:
        """The rule in words, as the report gives a skip's reason."""
        parts = []
        if self.summary is not None:
            parts.append(f"{self.field or 'summary'} matches {self.summary.pattern!r}")
        if self.code is not None:
            parts.append(f"code is {self.code!r}")
        if self.all_day is not None:
            parts.append("an all-day event" if self.all_day else "not an all-day event")
        return f"[[{self.kind}]] #{self.index + 1}: " + (" and ".join(parts) or "any entry")


@frozen
class ExportMapping:
    """A mapping file, checked (``load_mapping``); ``DEFAULT`` is SPEC §8 alone."""

    file: str | None = None
    timezone: str | None = None
    sessions: tuple[Rule, ...] = ()
    skips: tuple[Rule, ...] = ()
    #: What an export calls a person (lower-cased e-mail without mailto:, display name,
    #: FHIR reference) -> roster id, with the key's place.
    people: Mapping[str, tuple[str, str]] = attrs.field(factory=dict)
    csv: Mapping[str, str] = attrs.field(factory=dict)
    cancelled: re.Pattern[str] | None = None
    start_format: str | None = None
    end_format: str | None = None


DEFAULT = ExportMapping()


@frozen
class Person:
    """A person as an export writes them."""

    email: str | None = None
    name: str | None = None
    #: iCalendar ROLE (REQ-PARTICIPANT, ...) or FHIR resource type (Patient, ...).
    role: str | None = None
    #: A FHIR reference (``Practitioner/778``) or a roster id written as such.
    ref: str | None = None


@frozen
class Entry:
    """One event, appointment or row of an export, before the mapping step."""

    id: str
    #: Where it was written, as problems name it (``VEVENT x (line 12)``,
    #: ``entry[3].resource``, ``line 5``).
    where: str
    #: The series (a recurring event's UID): its instances' problems are told once.
    series: str | None = None
    summary: str | None = None
    codes: tuple[str, ...] = ()
    all_day: bool = False
    #: Fields the export states outright (X-KAPCHECK-*, a CSV column the mapping names).
    given: Mapping[str, Any] = attrs.field(factory=dict)
    attendees: tuple[Person, ...] = ()
    organizer: Person | None = None
    #: Whether the export names its people by kind (FHIR participants, CSV columns): then
    #: attendees with role Patient are the patients and the rest clinicians.
    typed: bool = False
    #: The session's times and the rest of its fields, as the session reader takes them.
    times: Mapping[str, Any] = attrs.field(factory=dict)
    #: A CSV row's cells by header.
    cells: Mapping[str, str] = attrs.field(factory=dict)
    #: The IANA zone its times were written in (an iCalendar TZID, a FHIR offset of
    #: whole hours as Etc/GMT+5), for showing them when nothing else names a zone.
    zone: str | None = None
    #: Whether its times could not be read (told already): the mapping step still tells
    #: what else is wrong with it, and makes no session of it.
    broken: bool = False
    #: What the format calls the places of kind, patient and clinician (iCalendar:
    #: CATEGORIES, ATTENDEE, ORGANIZER), as problems name them.
    at: Mapping[str, str] = attrs.field(factory=dict)
    #: Where it takes place (an iCalendar LOCATION, a FHIR Location participant).
    room: str | None = None

    def place(self, key: str) -> str:
        name = self.at.get(key, key)
        return f"{self.where}.{name}" if self.where else name


# --- the mapping file -------------------------------------------------------------------


def load_mapping(path: Any) -> ExportMapping:
    """The mapping file at ``path``, checked; ScheduleError listing every problem."""
    name = str(path)
    problems = Problems(name)
    data = read_bytes(path, problems, limit=MAX_SMALL_FILE_BYTES)
    if data is None:
        raise ScheduleError(problems.items)
    try:
        doc = tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ScheduleError([Problem(name, "", f"is not UTF-8 text (byte {exc.start})")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError([Problem(name, "", f"is not valid TOML: {exc}")]) from None
    mapping = parse_mapping(doc, problems)
    problems.raise_if_any()
    return mapping


def parse_mapping(doc: Mapping[str, Any], problems: Problems) -> ExportMapping:
    """A mapping document (parsed TOML) checked into a ExportMapping; problems collected."""
    for key in doc:
        if key not in TOP:
            problems.add(str(key)[:MAX_NAME_CHARS], "unknown key; expected one of "
                         + ", ".join(TOP) + did_you_mean(key, TOP))
    schema = doc.get("schema")
    if schema is not None and schema != SCHEMA:
        problems.add("schema", f"expected {SCHEMA!r}, got {shown(schema)}")
    tz = doc.get("timezone")
    if tz is not None:
        try:
            tz = zone(tz).key
        except ValueError as exc:
            problems.add("timezone", str(exc))
            tz = None
    sessions = _rules(doc.get("session"), "session", problems)
    skips = _rules(doc.get("skip"), "skip", problems)
    people: dict[str, tuple[str, str]] = {}
    raw_people = doc.get("people", {})
    if not isinstance(raw_people, dict):
        problems.add("people", "expected a table of what an export calls a person = roster id")
        raw_people = {}
    if len(raw_people) > MAX_PEOPLE:
        problems.add("people", f"expected at most {MAX_PEOPLE:,} entries")
        raw_people = {}
    for key, value in raw_people.items():
        where = f"people.{shown(key)}"
        if not isinstance(value, str) or not value.strip():
            problems.add(where, f"expected a roster id (text), got {shown(value)}")
            continue
        people[person_key(key)] = (value.strip(), where)
    csv = doc.get("csv", {})
    columns: dict[str, str] = {}
    cancelled = start_format = end_format = None
    if not isinstance(csv, dict):
        problems.add("csv", "expected a table of kapcheck field = the export's header")
        csv = {}
    for key, value in csv.items():
        where = f"csv.{key}"
        if key not in CSV_KEYS:
            problems.add(where, "unknown key; expected one of " + ", ".join(CSV_KEYS)
                         + did_you_mean(key, CSV_KEYS))
        elif not isinstance(value, str) or not value:
            problems.add(where, f"expected text, got {shown(value)}")
        elif key == "cancelled":
            cancelled = _pattern(value, where, problems)
        elif key in ("start_format", "end_format"):
            if "%" not in value:
                problems.add(where, "expected a strftime format such as '%m/%d/%Y %I:%M %p'")
            elif key == "start_format":
                start_format = value
            else:
                end_format = value
        else:
            columns[key] = value
    if csv and "start" not in columns:
        problems.add("csv.start", "is required: the header of the appointment's start")
    if cancelled is not None and "status" not in columns:
        problems.add("csv.cancelled", "needs csv.status: the header of the column it matches")
    return ExportMapping(file=problems.file, timezone=tz, sessions=sessions, skips=skips,
                    people=people, csv=columns, cancelled=cancelled,
                    start_format=start_format, end_format=end_format)


def _pattern(value: Any, where: str, problems: Problems) -> re.Pattern[str] | None:
    if not isinstance(value, str):
        problems.add(where, f"expected a regular expression (text), got {shown(value)}")
        return None
    if len(value) > MAX_PATTERN_CHARS:
        problems.add(where, f"a regular expression is at most {MAX_PATTERN_CHARS} characters")
        return None
    try:
        return re.compile(value)
    except re.error as exc:
        problems.add(where, f"is not a regular expression: {exc}")
        return None


def _rules(value: Any, kind: str, problems: Problems) -> tuple[Rule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_RULES:
        problems.add(kind, f"expected at most {MAX_RULES} [[{kind}]] tables")
        return ()
    allowed = CONDITIONS + (SETS if kind == "session" else ())
    out = []
    for i, item in enumerate(value):
        where = f"{kind}[{i}]"
        if not isinstance(item, dict):
            problems.add(where, f"expected a [[{kind}]] table")
            continue
        before = len(problems.items)
        for key in item:
            if key not in allowed:
                problems.add(f"{where}.{key}", "unknown key; expected one of "
                             + ", ".join(allowed) + did_you_mean(key, allowed))
        summary = (_pattern(item["summary"], f"{where}.summary", problems)
                   if "summary" in item else None)
        if summary is not None and kind == "session":
            for group in summary.groupindex:
                if group not in ("patient", "clinician"):
                    problems.add(f"{where}.summary", f"names the group {group!r}; a group is "
                                 "patient or clinician")
        code = item.get("code")
        if code is not None and (not isinstance(code, str) or not code.strip()):
            problems.add(f"{where}.code", f"expected a code (text), got {shown(code)}")
        column = item.get("field")
        if column is not None and (not isinstance(column, str) or not column):
            problems.add(f"{where}.field", f"expected a CSV header (text), got {shown(column)}")
        all_day = item.get("all_day")
        if all_day is not None and not isinstance(all_day, bool):
            problems.add(f"{where}.all_day", f"expected true or false, got {shown(all_day)}")
        if not any(k in item for k in ("summary", "code", "all_day")):
            problems.add(where, "names no condition: give summary, code or all_day")
        sets = {k: item[k] for k in SETS if k in item}
        if "kind" in sets and sets["kind"] not in KINDS:
            problems.add(f"{where}.kind", f"expected a session kind ({', '.join(KINDS)}), "
                         f"got {shown(sets['kind'])}" + did_you_mean(sets["kind"], KINDS))
        for key in ("modality", "route"):
            if key in sets and (not isinstance(sets[key], str) or not sets[key].strip()):
                problems.add(f"{where}.{key}", f"expected text, got {shown(sets[key])}")
        if "dose_mg" in sets and (isinstance(sets["dose_mg"], bool)
                                  or not isinstance(sets["dose_mg"], (int, float))):
            problems.add(f"{where}.dose_mg", f"expected a number, got {shown(sets['dose_mg'])}")
        if len(problems.items) == before:
            out.append(Rule(index=i, kind=kind, summary=summary,
                            code=code.strip() if isinstance(code, str) else None,
                            field=column, all_day=all_day, sets=sets))
    return tuple(out)


def person_key(text: Any) -> str:
    """How ``[people]`` and look-ups compare what an export calls a person: an e-mail
    in lower case without ``mailto:``, any other name as written (trimmed)."""
    value = str(text).strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    return value.lower() if "@" in value else value


def check_people(mapping: ExportMapping, roster: Collection[str], problems: Problems) -> None:
    """Every ``[people]`` entry names a roster id (patients' and clinicians')."""
    for roster_id, where in mapping.people.values():
        if roster_id not in roster:
            problems.add(where, f"names {shown(roster_id)}, which is no patient or clinician "
                         "of the roster" + did_you_mean(roster_id, roster))


def check_csv_header(mapping: ExportMapping, header: Sequence[str], problems: Problems,
                     mapping_problems: Problems) -> None:
    """Every header the mapping's ``[csv]`` names is in the file's header row."""
    for key, name in mapping.csv.items():
        if name not in header:
            mapping_problems.add(f"csv.{key}", f"names the header {shown(name)}, which "
                                 f"{problems.file} lacks" + did_you_mean(name, header))


# --- the mapping step ---------------------------------------------------------------------


def _holds(rule: Rule, entry: Entry) -> bool:
    if rule.all_day is not None and rule.all_day != entry.all_day:
        return False
    if rule.code is not None:
        codes = ((entry.cells.get(rule.field, ""),) if rule.field and entry.cells
                 else entry.codes)
        if rule.code not in codes:
            return False
    if rule.summary is not None:
        text = entry.cells.get(rule.field, "") if rule.field else (entry.summary or "")
        if rule.summary.search(text[:MAX_MATCHED_CHARS]) is None:
            return False
    return True


def first_rule(rules: Sequence[Rule], entry: Entry) -> Rule | None:
    for rule in rules:
        if _holds(rule, entry):
            return rule
    return None


class People:
    """Finds roster ids for people as exports write them."""

    def __init__(self, mapping: ExportMapping, clinicians: Collection[str],
                 patients: Collection[str]) -> None:
        self.people = {k: v[0] for k, v in mapping.people.items()}
        self.clinicians = clinicians
        self.patients = patients

    def of(self, person: Person, where: str, problems: Problems) -> str | None:
        """The roster id of the person, or their name as written; a problem where their
        e-mail and display name map to different ids."""
        by_email = self.people.get(person_key(person.email)) if person.email else None
        by_name = self.people.get(person_key(person.name)) if person.name else None
        by_ref = self.people.get(person.ref) if person.ref else None
        found = [x for x in (by_email, by_name, by_ref) if x is not None]
        if len(set(found)) > 1:
            problems.add(where, f"{shown(person.email or person.ref)} and "
                         f"{shown(person.name)} name one person, whom [people] maps to "
                         f"{shown(found[0])} and {shown(found[1])}")
            return None
        if found:
            return found[0]
        local = person.email.split("@", 1)[0] if person.email else None
        if person.ref:  # a FHIR reference: its id
            return person.ref.rpartition("/")[2]
        for candidate in (person.name, local):
            if candidate and (candidate in self.clinicians or candidate in self.patients):
                return candidate
        return (person.name or local or "").strip() or None

    def is_clinician(self, roster_id: str | None) -> bool:
        return roster_id is not None and roster_id in self.clinicians


def session_of(entry: Entry, mapping: ExportMapping, people: People,
               problems: Problems) -> dict[str, Any] | Skipped | None:
    """The entry as a schedule document's session (to be read as YAML's are), or the
    Skipped it is, or None with its problems."""
    skip = first_rule(mapping.skips, entry)
    if skip is not None:
        return Skipped(entry.where, skip.describe())
    if entry.all_day:
        problems.add(entry.place("start"), "an all-day event is not a session: give a "
                     "start time, or set all-day events aside with a mapping's [[skip]] "
                     "all_day = true")
        return None
    before = len(problems.items)
    session: dict[str, Any] = {"id": entry.id, **entry.times}
    rule = first_rule(mapping.sessions, entry)
    named: dict[str, str] = {}
    if rule is not None:
        session.update(rule.sets)
        if rule.summary is not None:
            text = entry.cells.get(rule.field, "") if rule.field else (entry.summary or "")
            match = rule.summary.search(text[:MAX_MATCHED_CHARS])
            if match is not None:
                named = {k: v.strip() for k, v in match.groupdict().items() if v and v.strip()}
    for key in ("kind", "modality", "route", "dose_mg", "room"):
        if key not in session and entry.given.get(key) is not None:
            session[key] = entry.given[key]
    if "room" not in session and entry.room is not None:
        session["room"] = entry.room
    if "kind" not in session:
        kinds = sorted({c.lower() for c in entry.codes if c.lower() in KINDS})
        if len(kinds) == 1:
            session["kind"] = kinds[0]
        else:
            problems.add(entry.place("kind"), _no_kind(entry, kinds, mapping))
    if "modality" not in session and not entry.typed:
        others = [c for c in entry.codes if c.lower() not in KINDS
                  and not (rule is not None and c == rule.code)]
        if others:
            session["modality"] = others[0]
    _people(entry, session, named, people, problems)
    if len(problems.items) != before or entry.broken:
        return None
    return session


def _no_kind(entry: Entry, kinds: list[str], mapping: ExportMapping) -> str:
    if len(kinds) > 1:
        return f"expected one code naming a session kind, got {shown(kinds)}"
    close = None
    for word in [*entry.codes, *(entry.summary or "").split()[:20]]:
        hits = difflib.get_close_matches(word.lower()[:64], KINDS, n=1, cutoff=0.75)
        if hits:
            close = hits[0]
            break
    rules = " or a [[session]] rule of the mapping that matches" if mapping.sessions else ""
    return (f"expected a code naming a session kind ({', '.join(KINDS)}){rules}, got "
            f"{shown(list(entry.codes))}" + (f"; did you mean {close!r}?" if close else ""))


def _named(text: str, people: People, where: str, problems: Problems) -> list[str]:
    """The roster ids of people a text names (``X-KAPCHECK-PATIENT``, a CSV cell, a regex
    group): one, or several between ";"; one named twice is a problem."""
    out: list[str] = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        rid = people.of(Person(name=part, email=part if "@" in part else None), where, problems)
        if rid is not None:
            _once(out, rid, where, problems)
    return out


def _once(found: list[str], rid: str, where: str, problems: Problems) -> None:
    """Add a person of a session once; named twice in one session is an input error
    (SPEC §11), never merged silently."""
    if rid in found:
        problems.add(where, f"{shown(rid)} is named twice in one session")
    else:
        found.append(rid)


def _set_people(session: dict[str, Any], one: str, ids: list[str]) -> None:
    """``patient: P-1``, or ``patients: [...]`` for several."""
    if len(ids) == 1:
        session[one] = ids[0]
    else:
        session[one + "s"] = ids


def _people(entry: Entry, session: dict[str, Any], named: Mapping[str, str], people: People,
            problems: Problems) -> None:
    """The entry's clinicians and patients (SPEC §11): those it names outright, else
    FHIR's Practitioner and Patient participants, else the calendar's ORGANIZER (and
    attendees who are clinicians of the roster: co-therapists) and every REQ-PARTICIPANT
    attendee who is not a clinician."""
    where = entry.where
    stated = named.get("clinician") or entry.given.get("clinician")
    clinicians = _named(stated, people, where, problems) if stated is not None else []
    organizer = person_key(entry.organizer.email) if entry.organizer and \
        entry.organizer.email else None
    if entry.typed:
        for p in entry.attendees:
            if p.role != "Patient":
                # A Practitioner and a PractitionerRole of theirs are one clinician.
                rid = people.of(p, where, problems)
                if rid is not None and rid not in clinicians:
                    clinicians.append(rid)
    elif stated is None:
        if entry.organizer is not None:
            rid = people.of(entry.organizer, where, problems)
            if rid is not None:
                clinicians.append(rid)
        for p in entry.attendees:  # co-therapists invited beside the organizer
            if organizer is not None and p.email and person_key(p.email) == organizer:
                continue
            rid = people.of(p, where, problems)
            if rid is not None and people.is_clinician(rid) and rid not in clinicians:
                clinicians.append(rid)
    if not clinicians:
        problems.add(entry.place("clinician"),
                     "no participant is a Practitioner or PractitionerRole" if entry.typed
                     else "expected X-KAPCHECK-CLINICIAN, an ORGANIZER or a mapping's clinician")
    else:
        _set_people(session, "clinician", clinicians)
    stated = named.get("patient") or entry.given.get("patient")
    found: list[str] = []
    if stated is not None:
        found = _named(stated, people, where, problems)
        if found:
            _set_people(session, "patient", found)
        else:
            problems.add(entry.place("patient"), "names no patient")
        return
    for p in entry.attendees:
        if entry.typed:
            if p.role != "Patient":
                continue
        elif (p.role or "REQ-PARTICIPANT").upper() != "REQ-PARTICIPANT" or (
                organizer is not None and p.email and person_key(p.email) == organizer):
            continue  # Google lists the organizer again as an attendee
        rid = people.of(p, where, problems)
        if rid is None or (not entry.typed and (people.is_clinician(rid) or rid in clinicians)):
            continue
        _once(found, rid, entry.place("patient"), problems)
    if not found:
        problems.add(entry.place("patient"), "no participant is a Patient" if entry.typed
                     else "expected X-KAPCHECK-PATIENT, a mapping's patient, or an ATTENDEE "
                     "with ROLE=REQ-PARTICIPANT who is not a clinician of the roster, found none")
        return
    _set_people(session, "patient", found)
