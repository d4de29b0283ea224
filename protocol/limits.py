"""What kapcheck accepts, stated once: sizes, lengths, counts and ranges.

Every limit protects a verdict or the process. durable_rules 2.0.28 overflows its C
stack (and kills the process) on a single string of a few MiB, so nothing unbounded
may reach it; its joins are quadratic in one partition's sessions, so a partition is
bounded too. The limits are far above any real clinic's schedule; the documentation
lists them (docs/limits.md) and a test keeps the two in step.
"""

from __future__ import annotations

import reprlib
from datetime import datetime, timedelta, timezone
from typing import Any

MiB = 1024 * 1024

#: Any input file (JSON, CSV, iCalendar, FHIR); standard input likewise.
MAX_FILE_BYTES = 1024 * MiB
#: YAML is parsed in pure Python: larger schedules should be JSON or CSV.
MAX_YAML_BYTES = 32 * MiB
#: A protocol or waiver file.
MAX_SMALL_FILE_BYTES = 4 * MiB

#: An id (session, patient, clinician) in characters.
MAX_ID_CHARS = 255
#: A modality, route or other short name in characters.
MAX_NAME_CHARS = 64
#: Free text (a clinic's name, a waiver's reason) in characters.
MAX_TEXT_CHARS = 2000

#: Sessions in one run.
MAX_SESSIONS = 2_000_000
#: Sessions of one patient in one run (about three a day for a year).
MAX_SESSIONS_PER_PATIENT = 1000
#: Sessions one clinician starts on one UTC day.
MAX_SESSIONS_PER_CLINICIAN_DAY = 200
#: Diagnoses of one patient, roles of one clinician.
MAX_DIAGNOSES = 50
#: The longest session (an all-day retreat session).
MAX_SESSION_LENGTH = timedelta(hours=24)

#: Times a schedule may hold (UTC): far from datetime's ends, so that every window a
#: protocol can set stays representable.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)

#: A protocol parameter measured in time is at most ten years.
MAX_PARAMETER_DAYS = 3660
#: A count parameter (sessions) is at most this.
MAX_PARAMETER_COUNT = 1000
#: Entries of a diagnosis map; modalities per entry.
MAX_MAP_ENTRIES = 500
MAX_MAP_MODALITIES = 50

#: Characters of a user's value echoed in an error message (PHI may hide in them).
ECHO_CHARS = 60


def shown(value: Any) -> str:
    """A value as an error message echoes it: its repr, at most ECHO_CHARS characters."""
    if isinstance(value, str):
        if len(value) <= ECHO_CHARS:
            return repr(value)
        return repr(value[:ECHO_CHARS]) + "…"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return "a number of more than 40 digits"
    text = _REPR.repr(value)  # bounded for containers
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"


_REPR = reprlib.Repr()
_REPR.maxstring = ECHO_CHARS
_REPR.maxother = ECHO_CHARS


def clip(text: str, limit: int = 160) -> str:
    """A parser's message as kapcheck repeats it: one line, at most ``limit`` characters."""
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
