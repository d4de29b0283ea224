"""CalDAV calendars: ``caldav+https://host/path/`` read with the ``caldav`` library into
one iCalendar text, which is then read exactly as an exported ``.ics`` is.

- Credentials come from ``KAPCHECK_CALDAV_USER`` and ``KAPCHECK_CALDAV_PASSWORD``, else
  from a netrc file (``NETRC``, else ``~/.netrc``) entry for the host; never from the
  command line (it would stand in the shell's history and the process list) and never
  from the URL.
- TLS certificates are verified. ``caldav+http://`` is refused except on this machine
  (127.0.0.1, ::1, localhost), where a test server runs.
- No service discovery: the URL names the calendar collection itself.
- A refusal (401, 403), a calendar that is not there (404), a timeout or a server that
  cannot be reached is one problem naming the calendar (exit 2), never a traceback.
"""

from __future__ import annotations

import netrc
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import Problems
from .limits import MAX_FILE_BYTES, clip

PREFIX = "caldav+"
#: Seconds the server has to answer each request.
TIMEOUT = 30
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def is_caldav(source: Any) -> bool:
    return isinstance(source, str) and source.lower().startswith(PREFIX)


def shown_url(source: str) -> str:
    """The calendar's address as problems and reports name it (no user or password)."""
    parts = urlsplit(source[len(PREFIX):])
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return PREFIX + urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _credentials(host: str) -> tuple[str | None, str | None]:
    user, password = os.environ.get("KAPCHECK_CALDAV_USER"), os.environ.get(
        "KAPCHECK_CALDAV_PASSWORD")
    if user is not None and password is not None:
        return user, password
    try:
        found = netrc.netrc(os.environ.get("NETRC") or None).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return user, password
    if found is None:
        return user, password
    login, _, secret = found
    return user or login, password or secret


def read(source: str, problems: Problems) -> bytes | None:
    """The calendar collection's events as one iCalendar document; None (with one
    problem) when it cannot be read."""
    url = source[len(PREFIX):]
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems.add("", "expected caldav+https://host/path/ (the calendar collection's address)")
        return None
    if parts.username or parts.password:
        problems.add("", "credentials do not go in the address: set KAPCHECK_CALDAV_USER "
                         "and KAPCHECK_CALDAV_PASSWORD, or a netrc entry for the host")
        return None
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        problems.add("", "caldav+http sends the password unencrypted: use caldav+https "
                         "(plain http is read from this machine only)")
        return None
    user, password = _credentials(parts.hostname)
    try:
        return _fetch(url, user, password, parts.scheme == "https")
    except Exception as exc:  # noqa: BLE001 - every failure of the server or network
        problems.add("", _why(exc))
        return None


def _fetch(url: str, user: str | None, password: str | None, tls: bool) -> bytes:
    import icalendar
    from caldav.davclient import DAVClient

    with DAVClient(url=url, username=user, password=password, timeout=TIMEOUT,
                          ssl_verify_cert=True, enable_rfc6764=False,
                          require_tls=tls) as client:
        calendar = client.calendar(url=url)  # type: ignore[no-untyped-call]
        whole = icalendar.Calendar()
        whole.add("prodid", "-//kapcheck//CalDAV//EN")
        whole.add("version", "2.0")
        zones: set[str] = set()
        size = 0
        for event in calendar.events():
            data = event.data
            size += len(data)
            if size > MAX_FILE_BYTES:
                raise ValueError(f"the calendar is over {MAX_FILE_BYTES // 2**20} MiB")
            for component in icalendar.Calendar.from_ical(data).subcomponents:
                if component.name == "VTIMEZONE":
                    tzid = str(component.get("TZID"))
                    if tzid in zones:
                        continue
                    zones.add(tzid)
                whole.add_component(component)
    text: bytes = whole.to_ical()
    return text


def _why(exc: Exception) -> str:
    """One line for a failed read: the status the server gave, or what went wrong."""
    name = type(exc).__name__
    text = str(exc)
    status = getattr(getattr(exc, "response", None), "status_code", None) or getattr(
        exc, "status", None)
    if name == "AuthorizationError" or status in (401, 403) or "401" in text[:200]:
        return ("the server refused the credentials (401); set KAPCHECK_CALDAV_USER and "
                "KAPCHECK_CALDAV_PASSWORD, or a netrc entry for the host")
    if name == "NotFoundError" or status == 404 or "404" in text[:200]:
        return "no calendar collection at that address (404)"
    if "timed out" in text.lower() or "timeout" in name.lower():
        return f"the server did not answer within {TIMEOUT} s"
    return f"cannot be read over CalDAV: {name}: {clip(text, 160)}"
