"""kapcheck as a CDS Hooks 2.0 service (HL7 CDS Hooks, ``appointment-book``): an EHR asks
what a booking breaks while a front-desk user books.

- ``GET /cds-services``: discovery, one service with the prefetch it needs.
- ``POST /cds-services/kapcheck-appointment-book``: the proposed Appointments
  (``context.appointments``: a Bundle, or a list) checked as a proposal against the
  prefetched ones (Patient, Conditions, booked Appointments with their practitioners);
  one card per finding the proposal introduces. A prefetch key that is absent (not null:
  null means no data) and that the service cannot fetch is a 412: kapcheck fetches
  nothing itself. Other patients' bookings of the same clinicians are not in these
  prefetches, so every answer carries an info card saying clinician double-booking was
  not checked, unless a ``practitionerAppointments`` prefetch (a Bundle) is given.
- ``POST /cds-services/kapcheck-appointment-book/feedback``: accepted and overridden
  cards appended to the audit log (JSON lines), flushed to disk before the answer.

The FHIR resources are read by kapcheck's FHIR reader and the proposal answered by its
``Checker``: the same findings the command line gives.
"""

from __future__ import annotations

import io
import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kapcheck.protocol import InputError, Problem, Protocol, Schedule, ScheduleError
from kapcheck.protocol import load_schedule as _load_schedule
from kapcheck.rules import Checker, Finding

SERVICE_ID = "kapcheck-appointment-book"
HOOK = "appointment-book"
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "appointments": "Appointment?patient={{context.patientId}}&_include=Appointment:actor"
                    "&_revinclude:iterate=PractitionerRole:practitioner",
}
OVERRIDE_REASONS = [
    {"code": "waiver-to-follow", "display": "A waiver will document this exception"},
    {"code": "clinical-judgement", "display": "Clinical judgement: the schedule is right"},
    {"code": "not-applicable", "display": "The rule does not apply to this patient"},
]


class HookError(Exception):
    """A hook request kapcheck cannot answer: its HTTP status and what was expected."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def discovery() -> dict[str, Any]:
    return {"services": [{
        "hook": HOOK, "id": SERVICE_ID, "title": "kapcheck session-protocol check",
        "description": "Checks proposed appointments against the clinic's ketamine-assisted "
                       "psychotherapy protocol: preparation, integration, modality, dose "
                       "spacing and monitoring, roles, overlaps.",
        "prefetch": dict(PREFETCH),
    }]}


def _resources(value: Any, where: str) -> list[dict[str, Any]]:
    """The resources of a Bundle, of a list of resources, or a single resource."""
    if value is None:
        return []
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict) and value.get("resourceType") == "Bundle":
        entries = value.get("entry") or []
        if not isinstance(entries, list):
            raise HookError(422, f"{where}: expected a Bundle with a list of entries")
        items = [e.get("resource") if isinstance(e, dict) else None for e in entries]
    elif isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        items = [value]
    else:
        raise HookError(422, f"{where}: expected a FHIR Bundle, a resource or a list of them")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
            raise HookError(422, f"{where}[{n}]: expected a FHIR resource")
        out.append(item)
    return out


def _bundle(resources: Iterable[Mapping[str, Any]]) -> bytes:
    seen: set[tuple[str, str]] = set()
    entries = []
    for r in resources:
        key = (str(r.get("resourceType")), str(r.get("id")))
        if key in seen:
            continue
        seen.add(key)
        entries.append({"resource": r})
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


def _schedule(data: bytes, clinicians: str | None, name: str) -> Schedule:
    try:
        return _load_schedule("-", stdin=io.BytesIO(data), clinicians=clinicians)
    except InputError as exc:
        raise HookError(422, f"{name}: " + "; ".join(str(p) for p in exc.problems[:10])) from None


def answer(request: Mapping[str, Any], protocol: Protocol, clinicians: str | None,
           as_of: Any = None) -> dict[str, Any]:
    """The cards for one ``appointment-book`` call."""
    if not isinstance(request, Mapping) or request.get("hook") not in (None, HOOK):
        raise HookError(422, f"expected a call of the {HOOK} hook")
    context = request.get("context")
    if not isinstance(context, Mapping):
        raise HookError(422, "the request has no context")
    prefetch = request.get("prefetch")
    prefetch = prefetch if isinstance(prefetch, Mapping) else {}
    missing = [key for key in PREFETCH if key not in prefetch]
    if missing:
        raise HookError(412, f"prefetch {', '.join(missing)} is missing and kapcheck "
                             "fetches nothing itself: send it with the request")
    booked_resources = []
    for key in (*PREFETCH, "practitionerAppointments"):
        for r in _resources(prefetch.get(key), f"prefetch.{key}"):
            if key == "patient" and r["resourceType"] != "Patient":
                raise HookError(422, f"prefetch.patient: expected a Patient, got {r['resourceType']}")
            if key == "conditions" and r["resourceType"] not in ("Condition", "OperationOutcome"):
                raise HookError(422, f"prefetch.conditions: expected Conditions, got "
                                     f"{r['resourceType']}")
            if r["resourceType"] != "OperationOutcome":
                booked_resources.append(r)
    proposed = _resources(context.get("appointments"), "context.appointments")
    if not proposed:
        raise HookError(422, "context.appointments holds no Appointment")
    for n, r in enumerate(proposed):
        if r["resourceType"] != "Appointment":
            raise HookError(422, f"context.appointments[{n}]: expected an Appointment, got "
                                 f"{r['resourceType']}")
    booked = _schedule(_bundle(booked_resources), clinicians, "prefetch")
    roster = [r for r in booked_resources if r["resourceType"] != "Appointment"]
    wanted = _schedule(_bundle([*roster, *proposed]), clinicians, "context.appointments")
    ids = {s.id for s in booked.sessions}
    add = [s for s in wanted.sessions if s.id not in ids]
    move = [s for s in wanted.sessions if s.id in ids]
    try:
        checker = Checker(booked, protocol, as_of=as_of)
        change = checker.propose(add=add, move=move)
    except ScheduleError as exc:
        raise HookError(422, "; ".join(str(p) for p in exc.problems[:10])) from None
    cards = [_card(f, protocol) for f in change.introduced if not f.waived]
    if "practitionerAppointments" not in prefetch or prefetch.get("practitionerAppointments") is None:
        cards.append({
            "uuid": str(uuid.uuid4()), "indicator": "info",
            "summary": "kapcheck did not check clinician double-booking",
            "detail": "Other patients' appointments with the same clinicians are not in this "
                      "request's prefetch, so whether a clinician is double-booked was not "
                      "checked. Send a `practitionerAppointments` prefetch (a Bundle) to "
                      "check it.",
            "source": _source(protocol, None)})
    return {"cards": cards}


def _source(protocol: Protocol, rule: str | None) -> dict[str, Any]:
    source: dict[str, Any] = {"label": f"kapcheck ({protocol.name} {protocol.version})"}
    if rule is not None:
        title = next((r.title for r in protocol.rules if r.id == rule), rule)
        source["topic"] = {"system": "https://kapcheck.readthedocs.io/rules", "code": rule,
                           "display": title}
    return source


def _card(f: Finding, protocol: Protocol) -> dict[str, Any]:
    rule = next((r for r in protocol.rules if r.id == f.rule), None)
    title = rule.title if rule is not None else f.rule
    summary = f"{f.rule}: {title}"
    if len(summary) >= 140:
        summary = summary[:138] + "…"
    requirement = rule.requirement_text() if rule is not None else ""
    detail = (f"**{f.message}**\n\n*Requirement:* {requirement}\n\n*Suggestion:* "
              f"{f.suggestion}")
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()), "summary": summary,
        "indicator": "critical" if f.severity.value == "error" else "warning",
        "detail": detail, "source": _source(protocol, f.rule),
        "overrideReasons": [dict(r) for r in OVERRIDE_REASONS],
        "extension": {"kapcheck": {"rule": f.rule, "patient": f.patient,
                                   "session": f.session}}}
    if f.window is not None:
        card["suggestions"] = [_suggestion(f)]
        card["selectionBehavior"] = "at-most-one"
    return card


def _suggestion(f: Finding) -> dict[str, Any]:
    """A fix that is a time window, as an Appointment to create (a session to book) or
    to update (the anchor, moved), ``status: proposed`` with the window as its
    ``requestedPeriod``."""
    assert f.window is not None
    what, earliest, latest = f.window
    period = [{"start": earliest.isoformat(), "end": latest.isoformat()}]
    if what.startswith("book "):
        kind = what[5:]
        label = f"Book {'an' if kind[:1] in 'aeiou' else 'a'} {kind} session in the window"
        resource: dict[str, Any] = {
            "resourceType": "Appointment", "status": "proposed",
            "appointmentType": {"coding": [{"code": kind}], "text": kind},
            "requestedPeriod": period,
            "participant": [{"actor": {"reference": f"Patient/{f.patient}"},
                             "status": "needs-action"}]}
        action = {"type": "create", "description": label, "resource": resource}
    else:
        label = f"Move {f.session} into the window"
        action = {"type": "update", "description": label,
                  "resource": {"resourceType": "Appointment", "id": f.session,
                               "status": "proposed", "requestedPeriod": period}}
    return {"label": label, "uuid": str(uuid.uuid4()), "actions": [action]}


class AuditLog:
    """Feedback on cards, appended as JSON lines and flushed to disk before the answer;
    a restart appends, never truncates. Cards are remembered for the log's lines (the
    user who saw them, their rule and patient) while the service runs."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.lock = threading.Lock()
        self.cards: dict[str, dict[str, Any]] = {}

    def remember(self, cards: list[dict[str, Any]], user: Any) -> None:
        with self.lock:
            if len(self.cards) > 100_000:
                self.cards.clear()
            for card in cards:
                extension = card.get("extension", {}).get("kapcheck", {})
                self.cards[card["uuid"]] = {"user": user, "rule": extension.get("rule"),
                                            "patient": extension.get("patient"),
                                            "session": extension.get("session")}

    def record(self, feedback: Any) -> int:
        items = feedback.get("feedback") if isinstance(feedback, Mapping) else None
        if not isinstance(items, list):
            raise HookError(422, "expected {\"feedback\": [...]}")
        lines = []
        for n, item in enumerate(items):
            if not isinstance(item, Mapping) or not isinstance(item.get("card"), str) or \
                    item.get("outcome") not in ("accepted", "overridden"):
                raise HookError(422, f"feedback[{n}]: expected a card's uuid and an outcome "
                                     "(accepted or overridden)")
            known = self.cards.get(item["card"], {})
            reason = item.get("overrideReason")
            lines.append(json.dumps({
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "user": known.get("user"), "card": item["card"],
                "suggestion": (item.get("acceptedSuggestions") or [{}])[0].get("id")
                if isinstance(item.get("acceptedSuggestions"), list) else None,
                "rule": known.get("rule"), "patient": known.get("patient"),
                "session": known.get("session"), "outcome": item["outcome"],
                "reason": reason if isinstance(reason, Mapping) else None,
            }, ensure_ascii=False, default=str))
        if self.path is not None and lines:
            with self.lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW,
                             0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as out:
                    out.write("".join(line + "\n" for line in lines))
                    out.flush()
                    os.fsync(out.fileno())
        return len(lines)


def problem(status: int, message: str) -> dict[str, Any]:
    return {"problems": [Problem("<request>", "", message).as_json()], "status": status}


def waivers_from_audit(lines: Iterable[str], source: str) -> tuple[str, list[str]]:
    """A waivers file (YAML) for review, from the overridden cards of an audit log: one
    waiver per overridden finding, its reason the override's, approved by the user who
    overrode it; and the problems (lines that are not audit lines)."""
    import yaml

    waivers: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: set[tuple[Any, ...]] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"{source}:{number}: not a JSON line of a kapcheck audit log")
            continue
        if not isinstance(entry, dict) or entry.get("outcome") != "overridden":
            continue
        if not entry.get("rule") or not (entry.get("session") or entry.get("patient")):
            problems.append(f"{source}:{number}: an override of a card this service did not "
                            "make (no rule or patient): left out")
            continue
        key = (entry["rule"], entry.get("session"), entry.get("patient"))
        if key in seen:
            continue
        seen.add(key)
        reason = entry.get("reason") or {}
        words = reason.get("userComment") or (reason.get("reason") or {}).get("display") or \
            (reason.get("reason") or {}).get("code") or "overridden in the EHR"
        waiver = {"rule": entry["rule"]}
        waiver["session" if entry.get("session") else "patient"] = (
            entry.get("session") or entry.get("patient"))
        waiver.update(reason=f"{words} (overridden {entry.get('time', '')[:10]}; review)",
                      approved_by=str(entry.get("user") or "unknown"))
        waivers.append(waiver)
    text = ("# Waivers drafted from the CDS Hooks audit log " + source + ": every card a\n"
            "# user overrode, for a compliance officer to review, give an expiry and keep.\n"
            + yaml.safe_dump({"waivers": waivers}, sort_keys=False, allow_unicode=True))
    return text, problems
