"""The invariants of a schedule, held in one place for every way a schedule is made.

The loaders check each document's shape and report it with lines and paths; then
this one step checks the model they built: ids unique and bounded, every reference
resolvable, times in range, sessions of bounded length, and partitions of bounded
size. ``validate`` runs the same step on a schedule built by hand (``attrs.evolve``
of a loaded one, or classes constructed in code), so the library holds exactly what
the command line holds and reports it the same way: a ScheduleError listing every
problem.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from itertools import chain
from operator import attrgetter
from typing import Any

from .errors import Problem, ScheduleError, did_you_mean, join_path
from .limits import (
    EARLIEST,
    LATEST,
    MAX_DIAGNOSES,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_SESSION_LENGTH,
    MAX_SESSIONS,
    MAX_SESSIONS_PER_CLINICIAN_DAY,
    MAX_SESSIONS_PER_PATIENT,
    MAX_TEXT_CHARS,
    shown,
)
from .model import MODALITY_KINDS, Kind, Schedule, Session, Waiver
from .params import MAX_DOSE_MG
from .times import zone

#: ICD-10-CM codes as kapcheck reads them: a letter, a digit, one more, an optional
#: dot and up to four more characters.
ICD_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")

#: Where an item of the model was written: (collection, index) -> (file, path).
Place = Callable[[str, int], tuple[str, str]]


def _default_place(schedule: Schedule) -> Place:
    file = ", ".join(schedule.sources) if schedule.sources else "<schedule>"

    def place(collection: str, index: int) -> tuple[str, str]:
        return file, f"{collection}[{index}]"

    return place


def _ident_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"expected an id (text), got {shown(value)}"
    if len(value) > MAX_ID_CHARS:
        return f"an id is at most {MAX_ID_CHARS} characters; this one has {len(value)}"
    return None


def _instant_problem(value: Any) -> str | None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        return f"expected an aware date and time, got {shown(value)}"
    if not EARLIEST <= value < LATEST:
        return (f"{value.isoformat()} is outside the years kapcheck reads "
                f"({EARLIEST.year} to {LATEST.year - 1})")
    return None


def check_schedule(schedule: Schedule, place: Place | None = None,
                   broken_sessions: Collection[str] = (), roster: bool = True,
                   known: Schedule | None = None) -> list[Problem]:
    """Every problem of the model, each named by its file and path.

    ``broken_sessions`` are ids of sessions a loader left out for problems of their
    own: a waiver naming one is not also reported as naming nothing. ``roster=False``
    trusts the clinicians and patients (a proposal's sessions, checked against the
    booked schedule's checked roster); ``known`` is the schedule whose roster the
    sessions are checked against (default: their own).
    """
    where = place or _default_place(schedule)
    problems: list[Problem] = []

    def add(collection: str, index: int, key: str, message: str) -> None:
        file, path = where(collection, index)
        problems.append(Problem(file, join_path(path, key) if key else path, message))

    if not roster:
        roster_of = known or schedule
        _check_sessions(schedule, add, roster_of.patient_by_id, roster_of.clinician_by_id, set())
        return problems
    clinicians: dict[str, Any] = {}
    first_at: dict[tuple[str, str], int] = {}

    def twin(collection: str, index: int, ident: str) -> str:
        """Where the first of two items of one id was written."""
        file, path = where(collection, first_at.setdefault((collection, ident), index))
        return f" (the first is at {file}: {path})"

    for i, c in enumerate(schedule.clinicians):
        if (p := _ident_problem(c.id)) is not None:
            add("clinicians", i, "id", p)
        elif clinicians.setdefault(c.id, c) != c:
            add("clinicians", i, "id", f"duplicate clinician id {shown(c.id)}"
                + twin("clinicians", i, c.id))
        else:
            first_at.setdefault(("clinicians", c.id), i)
    patients: dict[str, Any] = {}
    for i, pt in enumerate(schedule.patients):
        if (p := _ident_problem(pt.id)) is not None:
            add("patients", i, "id", p)
        elif patients.setdefault(pt.id, pt) != pt:
            add("patients", i, "id", f"duplicate patient id {shown(pt.id)}"
                + twin("patients", i, pt.id))
        else:
            first_at.setdefault(("patients", pt.id), i)
        if not isinstance(pt.diagnoses, (tuple, list)):
            add("patients", i, "diagnoses",
                f"expected a list of ICD-10-CM codes, got {shown(pt.diagnoses)}")
            continue
        if len(pt.diagnoses) > MAX_DIAGNOSES:
            add("patients", i, "diagnoses", f"at most {MAX_DIAGNOSES} diagnoses per patient")
        for j, code in enumerate(pt.diagnoses[:MAX_DIAGNOSES]):
            if not isinstance(code, str) or not ICD_CODE.match(code.strip().upper()):
                add("patients", i, f"diagnoses[{j}]",
                    f"expected an ICD-10-CM code such as F33.2, got {shown(code)}")

    seen = _check_sessions(schedule, add, patients, clinicians, set(broken_sessions))
    unknown = _Unknown()
    for i, w in enumerate(schedule.waivers):
        if _waiver_fields(w, i, add):
            continue
        if w.session is not None and w.session not in seen:
            add("waivers", i, "session", unknown("session", w.session, seen))
        elif w.patient is not None and w.patient not in patients:
            add("waivers", i, "patient", unknown("patient", w.patient, patients))
        if len(w.reason) > MAX_TEXT_CHARS:
            add("waivers", i, "reason", f"at most {MAX_TEXT_CHARS} characters")
    return problems


def _waiver_fields(w: Waiver, i: int, add: Callable[[str, int, str, str], None]) -> bool:
    """Whether a (hand-built) waiver has a field of the wrong type, each reported."""
    wrong = False
    for key in ("rule", "reason", "approved_by"):
        value = getattr(w, key)
        if not isinstance(value, str) or not value.strip():
            add("waivers", i, key, f"expected text, got {shown(value)}")
            wrong = True
    for key in ("session", "patient"):
        value = getattr(w, key)
        if value is not None and (p := _ident_problem(value)) is not None:
            add("waivers", i, key, p)
            wrong = True
    if w.expires is not None and (not isinstance(w.expires, date)
                                  or isinstance(w.expires, datetime)):
        add("waivers", i, "expires", f"expected a date, got {shown(w.expires)}")
        wrong = True
    if (p := _zone_problem(w.zone)) is not None:
        add("waivers", i, "zone", p)
        wrong = True
    return wrong


#: Timezone names a session was seen to carry that name a known timezone.
_ZONES_READ: set[str] = set()


def _zone_problem(name: Any) -> str | None:
    """What is wrong with a model's timezone name (None: UTC), or None."""
    if name is None:
        return None
    try:
        zone(name)
    except ValueError as exc:
        return str(exc)
    return None


_CLINICIANS = attrgetter("clinicians")
_PATIENTS = attrgetter("patients")


def _counts(field: Callable[[Session], Any], schedule: Schedule) -> Counter[str]:
    """How many of the schedule's sessions name each id (text) in the field (a list)."""
    try:
        return Counter(chain.from_iterable(map(field, schedule.sessions)))
    except TypeError:  # an id that is no text, or no list (built by hand): reported by the walk
        return Counter(v for people in map(field, schedule.sessions)
                       if isinstance(people, tuple) for v in people if isinstance(v, str))


#: The years kapcheck reads as whole seconds, each bound a second inside: the check's
#: quick test passes a ``start_s`` above the first and an ``end_s`` below the last.
_EARLIEST_S = int(EARLIEST.timestamp())
_LATEST_S = int(LATEST.timestamp()) - 1


def _check_sessions(schedule: Schedule, add: Callable[[str, int, str, str], None],
                    patients: Mapping[str, Any], clinicians: Mapping[str, Any],
                    seen: set[str]) -> set[str]:
    """The sessions' own invariants, ids unique, references resolvable, partitions
    bounded; the ids seen (with ``seen``, ids known to exist elsewhere)."""
    if len(schedule.sessions) > MAX_SESSIONS:
        add("sessions", MAX_SESSIONS, "", f"a run holds at most {MAX_SESSIONS:,} sessions")
    per_patient: dict[str, int] = defaultdict(int)
    per_clinician_day: dict[tuple[str, int], int] = defaultdict(int)
    # Days are counted only for clinicians with more sessions in all than a day may
    # hold (a run's table of every clinician's every day, half a million entries at a
    # million sessions, took a third of this check), and sessions only for patients
    # with more in all than a run may hold.
    per_clinician, per_patient_in_all = _counts(_CLINICIANS, schedule), _counts(_PATIENTS, schedule)
    busy = {cid for cid, n in per_clinician.items() if n > MAX_SESSIONS_PER_CLINICIAN_DAY}
    crowded = {pid for pid, n in per_patient_in_all.items() if n > MAX_SESSIONS_PER_PATIENT}
    ids: set[str] = set()
    unknown = _Unknown()
    # A run without any patients (or clinicians) lacks its roster: one problem says so,
    # not one per session.
    no_roster = {what for what, known in (("patient", patients), ("clinician", clinicians))
                 if not known and schedule.sessions}
    for what in sorted(no_roster):
        named = sorted({getattr(s, what) for s in schedule.sessions}, key=str)
        add("sessions", 0, what, f"the run has no {what}s, and its sessions name "
            f"{len(named)} ({', '.join(shown(n) for n in named[:3])}"
            f"{', …' if len(named) > 3 else ''}): give a roster of {what}s, a CSV file with "
            f"columns {'id,diagnoses' if what == 'patient' else 'id,roles'} "
            f"(--{what}s FILE) or a schedule document with `{what}s:`")
    # The quick test reads times as whole seconds (``start_s``, ``end_s``: the instants
    # truncated toward zero), with a second to spare at each bound, so that it passes
    # only what the exact test would: the exact test sees the rest.
    earliest, latest = _EARLIEST_S, _LATEST_S
    shorter = int(MAX_SESSION_LENGTH.total_seconds()) - 1
    for i, s in enumerate(schedule.sessions):
        sid, pid, cid, start_s, end_s = s.id, s.patient, s.clinician, s.start_s, s.end_s
        # The common case in one test; anything unusual is looked at closely.
        if not (type(sid) is str and type(pid) is str and type(cid) is str
                and sid.strip() and len(sid) <= MAX_ID_CHARS and pid.strip()
                and len(pid) <= MAX_ID_CHARS and cid.strip() and len(cid) <= MAX_ID_CHARS
                and earliest < start_s and end_s < latest
                and end_s - start_s < shorter
                and (s.route is None and s.dose_mg is None or s.kind is Kind.DOSING
                     and (s.dose_mg is None or dose_problem(s.dose_mg) is None))
                and (s.modality is None and s.kind not in MODALITY_KINDS
                     or type(s.modality) is str and s.modality.strip()
                     and len(s.modality) <= MAX_NAME_CHARS)
                and (s.zone is None or type(s.zone) is str and s.zone in _ZONES_READ)
                and (s.source is None or type(s.source) is str)
                and s.room is None and s._patients is None and s._clinicians is None):
            if not _check_session(s, i, add):
                continue  # an id that is no text is reported above, and names nothing
        if sid in ids:
            add("sessions", i, "id", f"duplicate session id {shown(sid)}")
        ids.add(sid)
        group = len(s.patients) > 1
        for j, pid in enumerate(s.patients):
            key = f"patients[{j}]" if group else "patient"
            if pid not in patients:
                if "patient" not in no_roster:
                    add("sessions", i, key, unknown("patient", pid, patients))
            elif pid in crowded:
                count = per_patient[pid] = per_patient[pid] + 1
                if count == MAX_SESSIONS_PER_PATIENT + 1:
                    add("sessions", i, key,
                        f"patient {shown(pid)} has more than {MAX_SESSIONS_PER_PATIENT} "
                        "sessions in the run")
        team = len(s.clinicians) > 1
        for j, cid in enumerate(s.clinicians):
            _clinician_ref(s, i, f"clinicians[{j}]" if team else "clinician", cid, clinicians,
                           no_roster, busy, per_clinician_day, unknown, add)
    return ids | seen


def _clinician_ref(s: Session, i: int, key: str, cid: str, clinicians: Mapping[str, Any],
                   no_roster: set[str], busy: set[str],
                   per_clinician_day: dict[tuple[str, int], int], unknown: _Unknown,
                   add: Callable[[str, int, str, str], None]) -> None:
    """A session's clinician: one of the run, starting at most so many sessions a day."""
    if cid not in clinicians:
        if "clinician" not in no_roster:
            add("sessions", i, key, unknown("clinician", cid, clinicians))
    elif cid in busy:
        day = (cid, s.start_s // 86400)
        count = per_clinician_day[day] = per_clinician_day[day] + 1
        if count == MAX_SESSIONS_PER_CLINICIAN_DAY + 1:
            add("sessions", i, "start",
                f"clinician {shown(cid)} starts more than "
                f"{MAX_SESSIONS_PER_CLINICIAN_DAY} sessions on {s.start.date()} (UTC)")


class _Unknown:
    """``no patient with id 'dr-amess' in the run; did you mean 'dr-ames'?``: the near
    miss is looked for in the first ten such problems of a run, among at most 10,000
    ids (about 0.1 s in all), so that a run of many broken references stays fast."""

    LOOKUPS = 10
    CANDIDATES = 10_000

    def __init__(self) -> None:
        self.left = self.LOOKUPS

    def __call__(self, what: str, ident: str, known: Collection[str]) -> str:
        message = f"no {what} with id {shown(ident)} in the run"
        if self.left > 0 and len(known) <= self.CANDIDATES:
            self.left -= 1
            message += did_you_mean(ident, [k for k in known if isinstance(k, str)])
        return message


def _check_session(s: Session, i: int, add: Callable[[str, int, str, str], None]) -> bool:
    """Each of the session's own fields; whether its ids are text (else it names nothing)."""
    sound = True
    for key in ("id", "patient", "clinician"):
        if (p := _ident_problem(getattr(s, key))) is not None:
            add("sessions", i, key, p)
            sound = sound and isinstance(getattr(s, key), str)
    for key, one in (("patients", "patient"), ("clinicians", "clinician")):
        sound = _check_people(s, i, key, one, add) and sound
    if s.room is not None and (not isinstance(s.room, str) or not s.room.strip()
                               or len(s.room) > MAX_NAME_CHARS):
        add("sessions", i, "room", f"expected a room's name (text, at most {MAX_NAME_CHARS} "
                                   f"characters), got {shown(s.room)}")
    for key in ("start", "end"):
        if (p := _instant_problem(getattr(s, key))) is not None:
            add("sessions", i, key, p)
    if s.end - s.start > MAX_SESSION_LENGTH:
        hours = MAX_SESSION_LENGTH.total_seconds() / 3600
        add("sessions", i, "end", f"a session lasts at most {hours:g} hours")
    if s.modality is not None and (not isinstance(s.modality, str) or not s.modality.strip()
                                   or len(s.modality) > MAX_NAME_CHARS):
        add("sessions", i, "modality",
            f"expected a modality such as CBT (at most {MAX_NAME_CHARS} characters), "
            f"got {shown(s.modality)}")
    elif s.modality is None and s.kind in MODALITY_KINDS:
        add("sessions", i, "modality", f"is required for {s.kind} sessions "
                                       "(a modality such as CBT, PDT or PE)")
    if s.route is not None and s.kind is not Kind.DOSING:
        add("sessions", i, "route", f"applies to dosing sessions only, not {s.kind}")
    if (p := _zone_problem(s.zone)) is not None:
        add("sessions", i, "zone", p)
    elif s.zone is not None and len(_ZONES_READ) < 1024:
        _ZONES_READ.add(s.zone)
    if s.source is not None and not isinstance(s.source, str):
        add("sessions", i, "source", f"expected text, got {shown(s.source)}")
    if s.dose_mg is not None:
        if s.kind is not Kind.DOSING:
            add("sessions", i, "dose_mg", f"applies to dosing sessions only, not {s.kind}")
        elif (why := dose_problem(s.dose_mg)) is not None:
            add("sessions", i, "dose_mg", why)
    return sound


def _check_people(s: Session, i: int, key: str, one: str,
                  add: Callable[[str, int, str, str], None]) -> bool:
    """A session's ``patients`` (or ``clinicians``): at least one id, each text, none
    twice, its ``patient`` (``clinician``) among them; whether they are all text."""
    people = getattr(s, "_" + key)  # as given: None is the one patient (clinician)
    if people is None:
        return True
    if not isinstance(people, tuple) or not people:
        add("sessions", i, key, f"expected at least one {one} id, got {shown(people)}")
        return False
    sound = True
    first: dict[str, int] = {}
    for j, ident in enumerate(people):
        if (p := _ident_problem(ident)) is not None:
            add("sessions", i, f"{key}[{j}]", p)
            sound = sound and isinstance(ident, str)
        elif ident in first:
            add("sessions", i, f"{key}[{j}]", f"{one} {shown(ident)} is listed twice in "
                                              f"one session (first at {key}[{first[ident]}])")
        else:
            first[ident] = j
    if sound and getattr(s, one) not in first:
        add("sessions", i, one, f"{shown(getattr(s, one))} is not one of the session's {key}")
    return sound


def dose_problem(value: Any) -> str | None:
    """What is wrong with a session's dose in mg, or None."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not math.isfinite(value):
        return f"expected a dose in mg such as 25 or 0.5, got {shown(value)}"
    if not 0 <= value <= MAX_DOSE_MG:
        return f"expected a dose from 0 to {MAX_DOSE_MG} mg, got {shown(value)}"
    if abs(value * 1000 - round(value * 1000)) > 1e-6:
        return f"a dose is kept to the microgram (three decimals of mg), got {shown(value)}"
    return None


def ensure_valid(schedule: Schedule) -> None:
    """Raise ScheduleError listing every problem, unless a loader already checked it."""
    if schedule.checked:
        return
    problems = check_schedule(schedule)
    if problems:
        raise ScheduleError(problems)
    object.__setattr__(schedule, "checked", True)
