"""iCalendar (RFC 5545) schedules: every VEVENT a session, recurring ones expanded.

- id: ``UID``; an instance of a recurring event (RRULE or RDATE, less EXDATE, expanded
  by ``recurring-ical-events`` up to ``until``) is ``UID@<instance start in UTC as
  20260302T150000Z>``. A single event is a session wherever it falls.
- kind: the ``CATEGORIES`` value that names a kind (any case); modality: another
  ``CATEGORIES`` value, or ``X-KAPCHECK-MODALITY``; route ``X-KAPCHECK-ROUTE``; dose
  ``X-KAPCHECK-DOSE-MG``.
- patient: ``X-KAPCHECK-PATIENT``, else the one ``ATTENDEE`` with
  ``ROLE=REQ-PARTICIPANT`` (its ``CN``, else its address before the ``@``); clinician:
  ``X-KAPCHECK-CLINICIAN``, else ``ORGANIZER`` (the same way).
- times: ``DTSTART`` with ``DTEND`` or ``DURATION``; ``TZID``, UTC and floating times
  (floating: the calendar's ``X-WR-TIMEZONE``, else ``--timezone``); every instance of
  a recurring event lasts its event's exact duration on the UTC timeline.
  ``STATUS:CANCELLED`` events are not sessions. An event with no kind, patient or
  clinician, or an all-day date, is an input error naming its UID and line.
- bounds: a series is expanded a week at a time up to the horizon, to at most
  MAX_INSTANCES sessions and MAX_WALKED instances; one that can recur more than
  MAX_PER_DAY times a day is refused unexpanded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from .errors import Problems
from .limits import (
    ECHO_CHARS,
    MAX_PARAMETER_DAYS,
    MAX_SESSIONS_PER_CLINICIAN_DAY,
    MAX_SESSIONS_PER_PATIENT,
    clip,
    shown,
)
from .mapping import Entry, Person

_UID_LINE = re.compile(r"^UID[;:](.*)$", re.IGNORECASE)
#: How far past the calendar's first event recurring events are expanded by default.
DEFAULT_HORIZON = timedelta(days=180)
#: Instances of one recurring event (a patient's sessions are bounded likewise).
MAX_INSTANCES = MAX_SESSIONS_PER_PATIENT


def is_ical(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper() == b"BEGIN:VCALENDAR"


def read(text: str, problems: Problems, cli_zone: str | None,
         until: date | None) -> tuple[list[Entry], str | None]:
    """Every event (every instance of a recurring one) as an Entry for the mapping
    step, and the calendar's timezone name.

    icalendar and recurring-ical-events read values lazily and raise what they meet
    (an unknown timezone name, a doubled UID, a broken date): past the guards for each
    field, any such failure makes the file a problem, never a crash.
    """
    try:
        return _read(text, problems, cli_zone, until)
    except Exception as exc:  # noqa: BLE001 - the libraries' failures on malformed input
        problems.add("", f"cannot be read as a calendar: {type(exc).__name__}: "
                         f"{clip(str(exc), 120)}")
        return [], None


def _read(text: str, problems: Problems, cli_zone: str | None,
          until: date | None) -> tuple[list[Entry], str | None]:
    import icalendar
    import recurring_ical_events

    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's problem
        problems.add("", f"is not valid iCalendar: {clip(str(exc))}")
        return [], None
    events = list(calendar.walk("VEVENT"))
    wr = calendar.get("X-WR-TIMEZONE")
    zone_name = str(wr) if wr is not None else cli_zone
    floating: ZoneInfo | None = None
    if zone_name is not None:
        try:
            floating = ZoneInfo(zone_name)
        except Exception:  # noqa: BLE001 - reported; the calendar cannot be expanded
            problems.add("X-WR-TIMEZONE", f"{shown(zone_name)} is not a known IANA timezone")
            return [], None
    lines = _event_lines(text, events, floating)
    out: list[Entry] = []
    recurring: set[str] = set()
    starts: list[datetime] = []
    series_uids = {_uid(ev) for ev in events if _is_series(ev)}
    for ev in events:
        try:
            uid = _uid(ev)
            is_recurring = _is_series(ev)
        except Exception as exc:  # noqa: BLE001 - a value icalendar cannot read lazily
            problems.add("VEVENT", f"cannot be read: {clip(str(exc), 120)}")
            continue
        where = _event(uid or "(no UID)", _line_of(lines, ev, uid, floating))
        if not uid:
            problems.add(where, "an event needs a UID")
            continue
        if not _zones_known(ev, where, problems):
            continue
        if ev.get("RECURRENCE-ID") is not None and uid not in series_uids:
            problems.add(f"{where}.RECURRENCE-ID", "overrides an instance of a recurring "
                         "event that this calendar does not hold (no event with this UID "
                         "has an RRULE or RDATE): the override cannot be placed")
            continue
        if _all_day(ev):
            # An all-day event (a holiday, a day off) or series is one entry: a [[skip]]
            # rule may set it aside, else the mapping step says it is no session.
            if ev.get("RECURRENCE-ID") is None and _status(ev) != "CANCELLED":
                out.append(Entry(id=uid, where=where, series=uid if is_recurring else None,
                                 summary=_text(ev.get("SUMMARY")),
                                 codes=tuple(_categories(ev)), all_day=True, at=_AT))
            continue
        # A single event's problems are reported with the rest of its fields below.
        start = _instant(ev.get("DTSTART"), floating,
                         problems if is_recurring else Problems(""), f"{where}.DTSTART")
        if start is not None:
            starts.append(start)
        if is_recurring and start is not None:  # else reported above, once
            recurring.add(uid)
        if is_recurring or ev.get("RECURRENCE-ID") is not None:
            continue
        if _status(ev) == "CANCELLED":
            continue
        entry = _entry(ev, uid, where, None, floating, problems)
        if entry is not None:
            out.append(entry)
    if recurring and starts:
        horizon = until or (min(starts) + DEFAULT_HORIZON).date()
        if horizon > (min(starts) + MAX_HORIZON).date():
            problems.add("--until", f"{horizon} is more than {MAX_HORIZON.days:,} days after "
                         f"the calendar's first event ({min(starts).date()}); kapcheck expands "
                         "recurring events at most that far")
            return out, zone_name
        for ev in events:  # a series too dense to expand is one problem, not expanded
            uid = _uid(ev)
            if uid in recurring and (per_day := _per_day(ev)) > MAX_PER_DAY:
                recurring.discard(uid)
                problems.add(f"{_event(uid, lines.get((uid, None)))}.RRULE",
                             f"recurs up to {per_day:,} times a day; kapcheck expands a "
                             f"series to at most {MAX_PER_DAY} sessions a day")
        # Only the series are expanded: a calendar of the same properties (its
        # X-WR-TIMEZONE) and timezones, holding their events and their overrides.
        series = icalendar.Calendar(calendar)
        series.subcomponents = [c for c in calendar.subcomponents if c.name != "VEVENT"
                                or _uid(c) in recurring]
        lengths = _lengths(events, recurring, floating)
        for ev, start in _instances(recurring_ical_events.of(series), min(starts), horizon,
                                    recurring, floating, problems, lines):
            uid = _uid(ev)
            sid = f"{uid}@{start.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"
            # Named by its series (its override's own line): one problem per series.
            where = _event(uid, _line_of(lines, ev, uid, floating))
            entry = _entry(ev, sid, where, uid, floating, problems)
            if entry is not None:
                # Its length is its event's, on the UTC timeline (RFC 5545: the same exact
                # duration for every instance): the library adds the length as wall-clock
                # time, so an instance across a change of clocks came out an hour long or
                # short (a 90-minute dose on the night clocks go back, 150 minutes).
                rid = _utc(ev.get("RECURRENCE-ID"), floating)
                length = lengths.get((uid, rid), lengths.get((uid, None)))
                if length is not None and length > timedelta(0) and "start" in entry.times:
                    entry = attrs.evolve(entry, times={
                        "start": entry.times["start"],
                        "duration": f"PT{int(length.total_seconds())}S"})
                out.append(entry)
    return out, zone_name


def _event(uid: str, line: int | None) -> str:
    """How a problem names an event: its UID (at most ECHO_CHARS characters of it, as
    every echoed value) and the line of its UID."""
    shown_uid = uid if len(uid) <= ECHO_CHARS else uid[:ECHO_CHARS] + "…"
    return f"VEVENT {shown_uid} (line {line if line is not None else '?'})"


def _is_series(ev: Any) -> bool:
    try:
        return ev.get("RRULE") is not None or ev.get("RDATE") is not None
    except Exception:  # noqa: BLE001 - unreadable: reported where the event is read
        return False


#: The properties whose date and time values may name a TZID.
_ZONED = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")


def _zones_known(ev: Any, where: str, problems: Problems) -> bool:
    """Whether every TZID the event's times name was found: icalendar reads a time whose
    TZID is neither an IANA name nor a VTIMEZONE of the calendar as a floating time,
    which would put it in the calendar's X-WR-TIMEZONE (hours off) and let an EXDATE
    cancel an instance it does not name."""
    unknown = []
    for name in _ZONED:
        for prop in _values(ev, name):
            tzid = getattr(prop, "params", {}).get("TZID")
            values = [item.dt for item in getattr(prop, "dts", ())] or [getattr(prop, "dt", None)]
            if tzid and any(isinstance(v, datetime) and v.tzinfo is None for v in values):
                unknown.append((name, str(tzid)))
    for name, tzid in unknown:
        problems.add(f"{where}.{name}", f"TZID {shown(tzid)} is neither a known IANA "
                     "timezone nor a VTIMEZONE of this calendar")
    return not unknown


def _utc(prop: Any, floating: ZoneInfo | None) -> datetime | None:
    """A date-time property's instant in UTC (None for none, a date, or a floating time
    without a timezone)."""
    value = _instant(prop, floating, Problems(""), "") if prop is not None else None
    return value.astimezone(timezone.utc) if value is not None else None


def _in_utc(value: Any, floating: ZoneInfo | None) -> datetime | None:
    """A date-time value's instant in UTC (None as ``_utc``)."""
    return _utc(SimpleNamespace(dt=value), floating)


def _periods(ev: Any, floating: ZoneInfo | None) -> Iterator[tuple[datetime, timedelta]]:
    """The start (in UTC) and length of each ``RDATE;VALUE=PERIOD`` of the event: such
    an instance lasts its own period, not the event's length."""
    for group in _values(ev, "RDATE"):
        for item in getattr(group, "dts", ()):
            value = item.dt
            if not (isinstance(value, tuple) and len(value) == 2
                    and isinstance(value[0], datetime)):
                continue
            begin, finish = value
            start = _in_utc(begin, floating)
            if isinstance(finish, timedelta):
                length: timedelta | None = finish
            else:
                end = _in_utc(finish, floating)
                length = end - start if start is not None and end is not None else None
            if start is not None and length is not None:
                yield start, length


def _lengths(events: list[Any], recurring: set[str], floating: ZoneInfo | None,
             ) -> dict[tuple[str, datetime | None], timedelta | None]:
    """The length of each series' event, (UID, None), of each of its overrides,
    (UID, RECURRENCE-ID in UTC), and of each period it lists, (UID, start in UTC):
    DTEND less DTSTART on the UTC timeline, or DURATION, or the period's."""
    out: dict[tuple[str, datetime | None], timedelta | None] = {}
    # Overrides first: one that replaces a listed period's instance has the last word.
    for ev in sorted(events, key=lambda ev: ev.get("RECURRENCE-ID") is None):
        try:
            uid = _uid(ev)
            if uid not in recurring:
                continue
            rid = _utc(ev.get("RECURRENCE-ID"), floating)
            length = None
            if ev.get("DTEND") is not None:
                start, end = _utc(ev.get("DTSTART"), floating), _utc(ev.get("DTEND"), floating)
                length = end - start if start is not None and end is not None else None
            elif isinstance(getattr(ev.get("DURATION"), "dt", None), timedelta):
                length = ev.get("DURATION").dt
            out.setdefault((uid, rid), length)
            for start, period in _periods(ev, floating):
                out.setdefault((uid, start), period)
        except Exception:  # noqa: BLE001 - unreadable: the instance's own fields tell
            continue
    return out


def _instances(query: Any, first: datetime, horizon: date, recurring: set[str],
               floating: ZoneInfo | None, problems: Problems,
               lines: dict[tuple[str, Any], int]) -> list[tuple[Any, datetime]]:
    """The instances of the recurring events up to the horizon, in order of start.

    The calendar is walked a window (``WINDOW``) at a time, so that what is expanded
    at once stays bounded: at most ``MAX_PER_DAY`` instances a day of each series (a
    denser one is refused before), never the years after the horizon, however far off
    a series starts. A series may make MAX_INSTANCES sessions, and MAX_WALKED
    instances in all, cancelled ones too (they are expanded all the same).
    """
    out: list[tuple[Any, datetime]] = []
    counts: dict[str, int] = {}
    walked: dict[str, int] = {}
    taken: dict[tuple[Any, ...], int] = {}
    # Every local date up to the horizon starts before this (offsets are under a day).
    stop = datetime.combine(horizon + timedelta(days=2), time(), timezone.utc)
    low = first.astimezone(timezone.utc) - timedelta(days=1)
    span = WINDOW
    try:
        while low < stop:
            high = min(low + span, stop)
            here: dict[tuple[Any, ...], list[Any]] = {}
            for ev in query.between(low, high):
                here.setdefault(_identity(ev), []).append(ev)
            # Empty stretches (a yearly series) are crossed in ever longer windows: each
            # window costs a pass over every series' instances so far.
            span = WINDOW if here else min(span * 2, MAX_WINDOW)
            found: list[tuple[date, datetime | None, str, Any]] = []
            for key, alike in here.items():
                # Instances of one series and one time run across the same windows: those
                # a window holds beyond the ones an earlier window held are new (a moved
                # instance can share its time with another, and both are sessions).
                for ev in alike[taken.get(key, 0):]:
                    found.append((_day_of(ev), _instant(ev.get("DTSTART"), floating,
                                                        Problems(""), ""), key[0], ev))
                taken[key] = max(taken.get(key, 0), len(alike))
            found.sort(key=lambda f: (f[0], f[1] or _MIDNIGHT, f[2]))
            for day, start, uid, ev in found:
                if day > horizon:
                    continue
                walked[uid] = walked.get(uid, 0) + 1
                session = start is not None and uid in recurring and _status(ev) != "CANCELLED"
                if session:
                    counts[uid] = counts.get(uid, 0) + 1
                if counts.get(uid, 0) > MAX_INSTANCES or walked[uid] > MAX_WALKED:
                    what = (f"more than {MAX_INSTANCES} sessions" if walked[uid] <= MAX_WALKED
                            else f"more than {MAX_WALKED:,} instances, cancelled ones too,")
                    problems.add(f"{_event(uid, lines.get((uid, None)))}.RRULE",
                                 f"expands to {what} before {horizon}; give a shorter "
                                 "--until or a smaller rule")
                    return out
                if session and start is not None:
                    out.append((ev, start))
            low = high
    except Exception as exc:  # noqa: BLE001 - a rule it cannot expand
        problems.add("RRULE", f"cannot expand the recurring events: {clip(str(exc))}")
    out.sort(key=lambda pair: pair[1])
    return out


#: Instances of one series walked, cancelled ones too.
MAX_WALKED = 10 * MAX_INSTANCES
#: How much of a calendar is expanded at once; after an empty window, twice as much,
#: up to MAX_WINDOW.
WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=112)
#: How far past the calendar's first event recurring events may be expanded.
MAX_HORIZON = timedelta(days=MAX_PARAMETER_DAYS)
#: The most instances a day one series may have: a clinician's day holds no more.
MAX_PER_DAY = MAX_SESSIONS_PER_CLINICIAN_DAY
_MIDNIGHT = datetime.min.replace(tzinfo=timezone.utc)


def _per_day(ev: Any) -> int:
    """The most instances a day the event's RRULEs can make (0 if none can be read:
    the expansion then says what is wrong with them).

    A rule below a day (``FREQ=HOURLY``) makes a day's share of its frequency, at most
    the hours, minutes and seconds its BY parts leave; a rule of a day or more makes a
    day's instances from its BYHOUR, BYMINUTE and BYSECOND lists.
    """
    try:
        total = 0
        for rule in _values(ev, "RRULE"):
            freq = str((rule.get("FREQ") or [""])[0]).upper()
            interval = max(1, int((rule.get("INTERVAL") or [1])[0]))
            hours, minutes, seconds = (len(rule.get(part) or ())
                                       for part in ("BYHOUR", "BYMINUTE", "BYSECOND"))
            if freq == "SECONDLY":
                count = min(-(-86400 // interval), (hours or 24) * (minutes or 60) * (seconds or 60))
            elif freq == "MINUTELY":
                count = min(-(-1440 // interval), (hours or 24) * (minutes or 60)) * (seconds or 1)
            elif freq == "HOURLY":
                count = min(-(-24 // interval), hours or 24) * (minutes or 1) * (seconds or 1)
            else:
                count = (hours or 1) * (minutes or 1) * (seconds or 1)
            total += count
        return total
    except Exception:  # noqa: BLE001 - an unreadable rule: the expansion reports it
        return 0


def _identity(ev: Any) -> tuple[Any, ...]:
    """An instance's series and times as written: alike for the same instance met in
    two windows (unreadable times: the instance alone)."""
    uid = _uid(ev)
    try:
        return (uid, *(getattr(ev.get(name), "dt", None)
                       for name in ("DTSTART", "DTEND", "DURATION")))
    except Exception:  # noqa: BLE001 - icalendar reads values lazily, and may fail
        return (uid, id(ev))


def _day_of(ev: Any) -> date:
    """The day an instance starts on, as written (a date, or a date and time)."""
    try:
        value = ev.get("DTSTART").dt
    except Exception:  # noqa: BLE001 - unreadable: its fields will tell
        return date.min
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.min


def _uid(ev: Any) -> str:
    return str(ev.get("UID") or "").strip()


def _values(ev: Any, name: str) -> list[Any]:
    """Every value of a property the event may give more than once (icalendar gives a
    list for several lines, the value for one)."""
    value = ev.get(name)
    return value if isinstance(value, list) else [] if value is None else [value]


def _status(ev: Any) -> str:
    try:
        return str(ev.get("STATUS") or "").upper()
    except Exception:  # noqa: BLE001 - unreadable: not cancelled, its fields will tell
        return ""


def _event_lines(text: str, events: list[Any],
                 floating: ZoneInfo | None) -> dict[tuple[str, Any], int]:
    """The line of each event's UID, by (UID, RECURRENCE-ID as written): a series and
    each of its overrides is named at its own line. The parser gives events in the
    order they are written, so the k-th VEVENT's UID line is the k-th event's."""
    numbers: list[int] = []
    inside = seen = False
    for number, line in enumerate(text.splitlines(), start=1):
        upper = line.strip().upper()
        if upper == "BEGIN:VEVENT":
            inside, seen = True, False
            numbers.append(number)
        elif upper == "END:VEVENT":
            inside = False
        elif inside and not seen and _UID_LINE.match(line.strip()):
            numbers[-1], seen = number, True
    found: dict[tuple[str, Any], int] = {}
    for ev, number in zip(events, numbers, strict=False):
        found.setdefault((_uid(ev), _recurrence(ev, floating)), number)
    return found


def _recurrence(ev: Any, floating: ZoneInfo | None) -> datetime | None:
    """The instant (UTC) of an override's RECURRENCE-ID; None for none or unreadable."""
    try:
        return _utc(ev.get("RECURRENCE-ID"), floating)
    except Exception:  # noqa: BLE001 - unreadable: named by its series
        return None


def _line_of(lines: dict[tuple[str, Any], int], ev: Any, uid: str,
             floating: ZoneInfo | None) -> int | None:
    """An event's (or an instance's) line: its override's, else its series'."""
    rid = _recurrence(ev, floating)
    if rid is not None and (uid, rid) in lines:
        return lines[(uid, rid)]
    return lines.get((uid, None))


def _instant(prop: Any, floating: ZoneInfo | None, problems: Problems,
             where: str) -> datetime | None:
    try:
        value = getattr(prop, "dt", None)
    except Exception as exc:  # noqa: BLE001 - icalendar reads values lazily, and may fail
        problems.add(where, f"is not a date and time: {clip(str(exc), 80)}")
        return None
    if value is None:
        problems.add(where, "is required")
        return None
    if not isinstance(value, datetime):
        problems.add(where, "an all-day event is not a session: give a start time")
        return None
    if value.tzinfo is None:
        if floating is None:
            problems.add(where, "a floating time, and the calendar has no X-WR-TIMEZONE "
                                "(pass --timezone)")
            return None
        value = value.replace(tzinfo=floating)
    return value


def _all_day(ev: Any) -> bool:
    try:
        value = getattr(ev.get("DTSTART"), "dt", None)
    except Exception:  # noqa: BLE001 - unreadable: its fields will tell
        return False
    return isinstance(value, date) and not isinstance(value, datetime)


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


def _location(value: Any) -> str | None:
    """An event's LOCATION, the session's room (SPEC §11); an empty one names none."""
    text = str(value).strip() if value is not None else ""
    return text or None


def _person(prop: Any) -> Person | None:
    """An ATTENDEE or ORGANIZER as written: its address, its CN and its ROLE."""
    if prop is None:
        return None
    params = getattr(prop, "params", {})
    cn = params.get("CN")
    address = str(prop).strip()
    address = address[7:] if address.lower().startswith("mailto:") else address
    role = params.get("ROLE")
    return Person(email=address if "@" in address else None,
                  name=str(cn).strip() if cn else (address.split("@", 1)[0].strip() or None),
                  role=str(role).upper() if role else None)


def _categories(ev: Any) -> list[str]:
    out: list[str] = []
    for group in _values(ev, "CATEGORIES"):
        for value in getattr(group, "cats", [group]):
            text = str(value).strip()
            if text:
                out.append(text)
    return out


def _entry(ev: Any, sid: str, where: str, series: str | None, floating: ZoneInfo | None,
           problems: Problems) -> Entry | None:
    """The event as an Entry; None (with problems) if its times cannot be read."""
    try:
        return _fields(ev, sid, where, series, floating, problems)
    except Exception as exc:  # noqa: BLE001 - a value icalendar cannot read lazily
        problems.add(where, f"cannot be read: {clip(str(exc), 120)}")
        return None


#: X- properties that state a session's field outright.
_GIVEN = (("X-KAPCHECK-PATIENT", "patient"), ("X-KAPCHECK-CLINICIAN", "clinician"),
          ("X-KAPCHECK-MODALITY", "modality"), ("X-KAPCHECK-ROUTE", "route"),
          ("X-KAPCHECK-DOSE-MG", "dose_mg"), ("X-KAPCHECK-ROOM", "room"))


def _fields(ev: Any, sid: str, where: str, series: str | None, floating: ZoneInfo | None,
            problems: Problems) -> Entry | None:
    before = len(problems.items)
    given = {key: str(ev.get(prop)).strip() for prop, key in _GIVEN
             if ev.get(prop) is not None}
    attendees = tuple(p for a in _values(ev, "ATTENDEE") if (p := _person(a)) is not None)
    times: dict[str, Any] = {}
    start = _instant(ev.get("DTSTART"), floating, problems, f"{where}.DTSTART")
    if start is not None:
        times["start"] = start.isoformat()
        if ev.get("DTEND") is not None:
            end = _instant(ev.get("DTEND"), floating, problems, f"{where}.DTEND")
            if end is not None:
                times["end"] = end.isoformat()
        elif ev.get("DURATION") is not None and isinstance(ev.get("DURATION").dt, timedelta):
            times["duration"] = f"PT{int(ev.get('DURATION').dt.total_seconds())}S"
        else:
            problems.add(f"{where}.DTEND", "expected DTEND or DURATION")
    written = getattr(start, "tzinfo", None)
    return Entry(id=sid, where=where, series=series, summary=_text(ev.get("SUMMARY")),
                 broken=len(problems.items) != before,
                 zone=written.key if isinstance(written, ZoneInfo) else None,
                 codes=tuple(_categories(ev)), all_day=False, given=given,
                 attendees=attendees, organizer=_person(ev.get("ORGANIZER")), times=times,
                 at=_AT, room=_location(ev.get("LOCATION")))


#: What problems call an event's places.
_AT = {"kind": "CATEGORIES", "patient": "ATTENDEE", "clinician": "ORGANIZER",
       "start": "DTSTART"}
