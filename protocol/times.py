"""Reading times, dates, durations and timezones; all arithmetic is on UTC instants."""

from __future__ import annotations

import calendar
import functools
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .limits import EARLIEST, LATEST, shown

# At most six digits a part: a session lasts hours, and int() of thousands of digits
# is slow or refused.
_SHORT = re.compile(
    r"^(?:(?P<h>\d{1,6})\s*h)?\s*(?:(?P<m>\d{1,6})\s*m(?:in)?)?\s*(?:(?P<s>\d{1,6})\s*s)?$")
_ISO = re.compile(
    r"^P(?:(?P<d>\d{1,6})D)?(?:T(?=\d)(?:(?P<h>\d{1,6})H)?(?:(?P<m>\d{1,6})M)?"
    r"(?:(?P<s>\d{1,6})S)?)?$"
)
_HAS_TIME = re.compile(r"^\d{4}-?\d{2}-?\d{2}[T ]\d{2}")

DURATION_FORMS = "a duration such as 90m, 2h, 1h30m or PT2H"


def zone(name: str) -> ZoneInfo:
    """The IANA timezone of that name; ValueError when there is none."""
    if not isinstance(name, str) or not name or name != name.strip() or ".." in name:
        raise ValueError(f"{shown(name)} is not an IANA timezone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{shown(name)} is not a known IANA timezone name") from None


def parse_duration(text: object) -> timedelta:
    """``90m``, ``2h``, ``1h30m``, ``45s`` or ISO 8601 (``PT2H``, ``PT1H30M``, ``P1D``)."""
    if not isinstance(text, str):
        raise ValueError(f"expected {DURATION_FORMS}, got {shown(text)}")
    return _duration(text)


@functools.lru_cache(maxsize=1024)
def _duration(text: str) -> timedelta:
    raw = text.strip()
    match = _ISO.match(raw.upper()) if raw[:1] in "Pp" else _SHORT.match(raw.lower())
    if not raw or match is None or not any(match.groupdict().values()):
        raise ValueError(f"expected {DURATION_FORMS}, got {shown(text)}")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(days=parts.get("d", 0), hours=parts.get("h", 0),
                     minutes=parts.get("m", 0), seconds=parts.get("s", 0))


def parse_instant(text: object, tz: ZoneInfo | None) -> datetime:
    """An ISO 8601 date and time as an aware UTC datetime (see ``_instant``).

    A schedule repeats its times (a clinic's slots start on the hour): each distinct
    text is read once per timezone, and equal times share one datetime object.
    """
    if isinstance(text, str) and len(text) <= 64:
        return _cached_instant(text, tz)
    return _instant(text, tz)


@functools.lru_cache(maxsize=65536)
def _cached_instant(text: str, tz: ZoneInfo | None) -> datetime:
    return _instant(text, tz)


def _instant(text: object, tz: ZoneInfo | None) -> datetime:
    """An ISO 8601 date and time as an aware UTC datetime.

    A time with an offset (``Z``, ``+02:00``) stands for itself. A time without one
    is wall-clock time in ``tz``: an ambiguous time (the repeated hour when clocks
    go back) is its first occurrence; a time that does not exist (the skipped hour
    when clocks go forward) is an error, since no session can start then.
    """
    expected = "expected an ISO 8601 date and time such as 2026-03-02T09:00"
    if not isinstance(text, str) or len(text) > 64:
        raise ValueError(f"{expected}, got {shown(text)}")
    raw = text.strip()
    if not _HAS_TIME.match(raw):
        raise ValueError(f"{expected}, got {shown(text)}")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{expected}, got {shown(text)}{_impossible(raw, str(exc))}") from None
    if value.microsecond:
        raise ValueError(f"times are kept to the second; {shown(text)} has a fraction of a second")
    if not EARLIEST.year <= value.year < LATEST.year or not _in_range(value):
        raise ValueError(f"{shown(text)} is outside the years kapcheck reads "
                         f"({EARLIEST.year} to {LATEST.year - 1})")
    if value.tzinfo is not None:
        return value.astimezone(timezone.utc)
    if tz is None:
        raise NaiveTimeError(
            f"{shown(text)} has no UTC offset and the document has no timezone "
            "(add `timezone:` to the document or pass --timezone)"
        )
    local = value.replace(tzinfo=tz, fold=0)
    utc = local.astimezone(timezone.utc)
    if utc.astimezone(tz).replace(tzinfo=None) != value:
        raise ValueError(f"{shown(text)} does not exist in {tz.key}: the clocks skip that hour")
    return utc


_YMD = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")


def _impossible(raw: str, reason: str) -> str:
    """Why a well-formed date does not exist (``April 2026 has 30 days``), else ``""``."""
    match = _YMD.match(raw)
    if match is None:
        return ""
    year, month, day = (int(g) for g in match.groups())
    if not 1 <= month <= 12:
        return f": there is no month {month:02d}"
    days = calendar.monthrange(year, month)[1] if 1 <= year <= 9999 else 31
    if not 1 <= day <= days:
        return f": {calendar.month_name[month]} {year} has {days} days"
    if "must be in" in reason or "out of range" in reason:
        return f" ({reason})"
    return ""


def _in_range(value: datetime) -> bool:
    """Whether the instant, read in UTC, lies in kapcheck's years (an offset may move it)."""
    if value.tzinfo is None:
        return True
    return EARLIEST <= value.astimezone(timezone.utc) < LATEST


class NaiveTimeError(ValueError):
    """A time without offset in a document without timezone."""


def parse_date(text: object) -> date:
    if isinstance(text, datetime):
        raise ValueError(f"expected a date such as 2026-04-01, got {shown(text)}")
    if isinstance(text, date):
        return text
    if isinstance(text, str):
        try:
            return date.fromisoformat(text.strip()[:32])
        except ValueError:
            pass
    raise ValueError(f"expected a date such as 2026-04-01, got {shown(text)}")


@functools.lru_cache(maxsize=8192)
def local_text(instant: datetime, zone_name: str | None) -> str:
    """``2026-03-04 12:00`` in the zone (or UTC), for messages. Kept for the instants
    messages name most (a clinic's slots), which a large run names thousands of times;
    equal instants (in any timezone) read the same."""
    if zone_name:
        local = instant.astimezone(ZoneInfo(zone_name))
        fmt = "%Y-%m-%d %H:%M" if not local.second else "%Y-%m-%d %H:%M:%S"
        return local.strftime(fmt) + f" {local.tzname()}"
    fmt = "%Y-%m-%d %H:%M" if not instant.second else "%Y-%m-%d %H:%M:%S"
    return instant.astimezone(timezone.utc).strftime(fmt) + " UTC"


def human_span(delta: timedelta) -> str:
    """``2 h 30 min``, ``71 h 59 min``: elapsed time for messages."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} h")
    if minutes or (not hours and not secs):
        parts.append(f"{minutes} min")
    if secs:
        parts.append(f"{secs} s")
    return sign + " ".join(parts)
