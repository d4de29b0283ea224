"""Findings, waivers and the report: what a run concludes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from operator import attrgetter
from zoneinfo import ZoneInfo

from attrs import evolve, field, frozen

from kapcheck.protocol import Schedule, Severity, Skipped, Waiver

#: Findings about the schedule's waivers rather than its sessions.
WAIVER_RULE = "WAIVER-001"

_BEFORE_ALL = datetime.min.replace(tzinfo=timezone.utc)


@frozen
class Finding:
    """One way the schedule breaks a rule, attached to a session (its anchor) or to a
    patient, with a message that says what is wrong and a suggestion that says what
    to book, move or change. Findings are sorted by patient, anchor start, rule."""

    #: The rule's ID (``KAP-INT-001``), or ``WAIVER-001`` for a waiver that matches nothing.
    rule: str
    #: ``error`` or ``warning``, as the protocol sets it for the rule.
    severity: Severity
    #: The patient's id (None only for a waiver finding without one).
    patient: str | None
    #: The anchor session's id; None when the finding is about the patient as a whole.
    session: str | None
    #: What is wrong, with ids and local times.
    message: str
    #: What would fix it (a time window to book in, a session to move, a clinician free).
    suggestion: str
    #: The waiver that documents this finding as an approved exception, if one does;
    #: a waived finding does not count towards the verdict or the exit code.
    waiver: Waiver | None = None
    #: The anchor's start, for ordering (None: a patient-level anchor).
    start: datetime | None = None
    #: Other sessions the finding is about (the overlapped one, the previous dose).
    related: tuple[str, ...] = ()
    #: Where the anchor session was written (file and place), when it is known.
    source: str | None = None
    #: Where the fix is a time window: (``book KIND`` or ``move``, earliest start, latest
    #: start). Not part of the JSON report; CDS Hooks suggestions are made of it.
    window: tuple[str, datetime, datetime] | None = field(default=None, eq=False)

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    @property
    def sort_key(self) -> tuple[str, datetime, str, str]:
        return (self.patient or "", self.start or _BEFORE_ALL, self.rule, self.session or "")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 error``, ``2 errors``; ``1 entry``, ``2 entries`` (``plural`` given)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


@frozen
class Report:
    """What a run concludes: every finding, sorted, and the counts of the verdict.
    ``compliant`` is true when no unwaived error remains; warnings are advice."""

    #: The protocol's name and version, as its file gives them.
    protocol_name: str
    protocol_version: str
    #: Every finding, waived ones included, sorted by patient, anchor start, rule.
    findings: tuple[Finding, ...]
    #: How many patients and sessions the schedule holds.
    patients: int
    sessions: int
    #: The clinic's name, when the schedule names it.
    clinic: str | None = None
    #: The day waivers were judged on (None: the day of the run).
    as_of: date | None = None
    #: The ids of the schedule's patients, sorted.
    patient_ids: tuple[str, ...] = ()
    #: Entries of exports a mapping set aside (``Skipped``: source and reason).
    skipped: tuple[Skipped, ...] = ()

    def _count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity and not f.waived)

    @property
    def errors(self) -> int:
        """How many unwaived findings of severity error there are (a count)."""
        return self._count(Severity.ERROR)

    @property
    def warnings(self) -> int:
        """How many unwaived findings of severity warning there are (a count)."""
        return self._count(Severity.WARNING)

    @property
    def waived(self) -> int:
        """How many findings a waiver documents (they count towards neither total)."""
        return sum(1 for f in self.findings if f.waived)

    @property
    def compliant(self) -> bool:
        """No unwaived error: the schedule keeps the protocol (warnings are advice)."""
        return self.errors == 0

    def fails(self, fail_on: Severity = Severity.ERROR) -> bool:
        """Whether an unwaived finding at or above ``fail_on`` exists."""
        return any(f.severity.rank >= fail_on.rank and not f.waived for f in self.findings)


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """The findings in report order, each identity once.

    Two clinicians of one session (co-therapists) can each be double-booked by the
    same other session: their views give one finding twice, (rule, patient, session,
    related) alike. The report keeps the one whose message sorts first, whichever view
    gave it first. Findings of one identity share a sort key, so they are neighbours.
    """
    ordered = sorted(findings, key=_SORT_KEY)
    out: list[Finding] = []
    previous: tuple[str, datetime, str, str] | None = None
    for f in ordered:
        key = f.sort_key
        if key == previous and f.session is not None:
            twin = _twin(out, f, key)
            if twin is not None:
                if f.message < out[twin].message:
                    out[twin] = f
                continue
        out.append(f)
        previous = key
    return tuple(out)


_SORT_KEY = attrgetter("sort_key")


def _twin(out: list[Finding], f: Finding, key: tuple[str, datetime, str, str]) -> int | None:
    """The place in ``out`` of a finding of ``f``'s identity among the last ones of its
    sort key, if any."""
    related = sorted(f.related)
    i = len(out) - 1
    while i >= 0 and out[i].sort_key == key:
        if sorted(out[i].related) == related:
            return i
        i -= 1
    return None


def today_in(zone: str | None) -> date:
    return datetime.now(ZoneInfo(zone) if zone else timezone.utc).date()


def apply_waivers(findings: Sequence[Finding], schedule: Schedule, known_rules: set[str],
                  as_of: date | None) -> list[Finding]:
    """Mark waived findings; add a WAIVER-001 warning for each waiver that matches none.

    A waiver for a session waives that rule's finding anchored at the session; one for a
    patient waives every finding of that rule for the patient. An expired waiver (the
    day after ``expires``, in the document's timezone) waives nothing. A session waiver
    is preferred to a patient waiver for the same finding.
    """
    out = list(findings)
    matched: set[int] = set()
    ordered = sorted(range(len(schedule.waivers)),
                     key=lambda i: (schedule.waivers[i].session is None, i))
    for n, finding in enumerate(out):
        for i in ordered:
            w = schedule.waivers[i]
            if w.rule != finding.rule:
                continue
            if w.session is not None and w.session != finding.session:
                continue
            if w.patient is not None and w.patient != finding.patient:
                continue
            matched.add(i)
            day = as_of if as_of is not None else today_in(w.zone)
            if w.expires is not None and w.expired_on(day):
                note = (f" A waiver ({w.origin}) held through {w.expires.isoformat()} and has "
                        "expired.")
                out[n] = finding = evolve(finding, suggestion=finding.suggestion + note)
                continue
            out[n] = evolve(finding, waiver=w)
            break
    for i, w in enumerate(schedule.waivers):
        if i in matched:
            continue
        session = schedule.session_by_id.get(w.session) if w.session else None
        patient = w.patient or (session.patient if session else None)
        target = f"session {w.session}" if w.session else f"patient {w.patient}"
        why = ("names no rule of the protocol" if w.rule not in known_rules
               else "matches no finding")
        out.append(Finding(
            rule=WAIVER_RULE,
            severity=Severity.WARNING,
            patient=patient,
            session=w.session,
            message=f"The waiver of {w.rule} for {target} (approved by {w.approved_by}; "
                    f"{w.origin}) {why}.",
            suggestion="Remove the waiver, or correct its rule and "
                       f"{'session' if w.session else 'patient'} so that it names the finding "
                       "it documents.",
            start=session.start if session else None,
            source=w.origin or None,
        ))
    return out
