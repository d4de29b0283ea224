"""FHIR R4 (JSON) schedules: a Bundle, or a single resource, into the loader's records.

Plain JSON with kapcheck's own checks rather than a FHIR model library: kapcheck reads
five resource types and a handful of their fields, must name the place of every
problem inside the bundle (``entry[3].resource.participant[0].actor``), and must not
drop an unknown field silently or fail on one it does not read; a model library would
validate (and reject) the whole resource, fields kapcheck never uses included.

- ``Appointment`` -> session: ``id``; ``start`` and ``end``, or ``start`` and
  ``minutesDuration``; ``participant[].actor.reference`` ``Patient/ID`` -> patient,
  ``Practitioner/ID`` or ``PractitionerRole/ID`` (its practitioner) -> clinician;
  ``appointmentType`` (a coding's ``code`` or the ``text``) -> kind; ``serviceType`` ->
  modality. Statuses proposed, pending, booked, arrived, checked-in and fulfilled are
  sessions; cancelled, noshow, entered-in-error and waitlist are not.
- ``Patient`` -> patient; ``Condition`` (``subject`` -> a Patient of the bundle, a
  coding of the ICD-10-CM system) and ICD-10-CM codings of an Appointment's
  ``reasonCode`` -> diagnoses. A Condition counts as the FHIR R4 Condition page defines
  its statuses: its ``clinicalStatus`` active, recurrence or relapse (inactive,
  remission and resolved do not count) and its ``verificationStatus`` confirmed or
  absent (unconfirmed, provisional, differential, refuted and entered-in-error do not:
  none is evidence of the diagnosis); ``Practitioner`` -> clinician; ``PractitionerRole.code``
  (a coding's ``code`` or ``text`` naming a role) -> roles.
- A resource type that is close to one of these five (``Appointmnet``, ``appointment``)
  or empty is an input error, never skipped; other resource types (Location,
  Encounter, ...) are not read.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from typing import Any

from .errors import Problems
from .limits import shown
from .mapping import Entry, Person
from .model import Kind, Role

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SESSION_STATUSES = {"proposed", "pending", "booked", "arrived", "checked-in", "fulfilled"}
NOT_SESSIONS = {"cancelled", "noshow", "entered-in-error", "waitlist"}
#: The resource types kapcheck reads.
READ = ("Appointment", "Patient", "Condition", "Practitioner", "PractitionerRole")
#: Condition statuses (FHIR R4 condition-clinical and condition-ver-status): those that
#: make a diagnosis count, and those that do not.
CLINICAL = {"active": True, "recurrence": True, "relapse": True, "inactive": False,
            "remission": False, "resolved": False}
VERIFICATION = {"confirmed": True, "unconfirmed": False, "provisional": False,
                "differential": False, "refuted": False, "entered-in-error": False}
_KINDS = {k.value: k.value for k in Kind}
_ROLES = {r.value: r.value for r in Role}


def is_fhir(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("resourceType"), str)


def resources(doc: dict[str, Any], problems: Problems) -> list[tuple[str, dict[str, Any]]]:
    """(path, resource) of a Bundle's entries, or of the single resource."""
    if doc.get("resourceType") != "Bundle":
        return [("", doc)]
    entries = doc.get("entry", [])
    if not isinstance(entries, list):
        problems.add("entry", "expected a list of bundle entries")
        return []
    out = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            problems.add(f"entry[{i}]", "expected an entry with a resource")
            continue
        out.append((f"entry[{i}].resource", resource))
    return out


def _type_problem(kind: str) -> str | None:
    """Why a resource type is refused: empty, or a near miss of one kapcheck reads."""
    if kind in READ:
        return None
    if not kind.strip():
        return f"expected a resource type ({', '.join(READ)}, ...), got an empty one"
    near = [t for t in READ if t.lower() == kind.lower()] or difflib.get_close_matches(
        kind, READ, n=1, cutoff=0.8)
    if near:
        return f"unknown resource type {shown(kind)}: did you mean {near[0]}?"
    return None


def _status(concept: Any, known: dict[str, bool], what: str, where: str,
            problems: Problems) -> bool | None:
    """Whether a Condition status lets its diagnosis count (None: absent or unknown, the
    unknown reported)."""
    if concept is None:
        return None
    codes = [c.lower() for c in _codes(concept)]
    for code in codes:
        if code in known:
            return known[code]
    problems.add(where, f"expected a {what} ({', '.join(known)}), got {shown(codes)}")
    return None


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _coding(concept: dict[str, Any]) -> list[Any]:
    """A CodeableConcept's ``coding`` list (none when it is written as something else)."""
    coding = concept.get("coding", [])
    return coding if isinstance(coding, list) else []


def _codes(concept: Any) -> list[str]:
    """A CodeableConcept's codes and text, as written."""
    if not isinstance(concept, dict):
        return []
    found = [c.get("code") for c in _coding(concept) if isinstance(c, dict)]
    found.append(concept.get("text"))
    return [c.strip() for c in found if isinstance(c, str) and c.strip()]


def _icd(concept: Any) -> list[str]:
    if not isinstance(concept, dict):
        return []
    return [c["code"] for c in _coding(concept)
            if isinstance(c, dict) and c.get("system") == ICD10CM and isinstance(c.get("code"), str)]


def _reference(value: Any) -> tuple[str, str] | None:
    ref = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(ref, str) or ref.count("/") < 1:
        return None
    kind, _, rid = ref.rpartition("/")
    return kind.rsplit("/", 1)[-1], rid


def read(doc: dict[str, Any], problems: Problems) -> dict[str, list[tuple[str, Any]]]:
    """The bundle's records: ``patients`` and ``clinicians`` (document-shaped dicts) and
    ``sessions`` (Entries for the mapping step), each with its path."""
    found = resources(doc, problems)
    diagnoses: dict[str, list[str]] = defaultdict(list)
    patients: dict[str, str] = {}
    practitioners: dict[str, str] = {}
    roles_of: dict[str, list[str]] = defaultdict(list)
    role_practitioner: dict[str, str] = {}
    #: Location id -> its name, for a Location participant (the session's room).
    locations: dict[str, str] = {}
    conditions: list[tuple[str, str, list[str]]] = []
    for path, r in found:
        kind, given = r.get("resourceType"), r.get("id")
        rid = given if isinstance(given, str) else ""
        if (why := _type_problem(kind if isinstance(kind, str) else "")) is not None:
            problems.add(_at(path, "resourceType"), why)
            continue
        if kind in ("Patient", "Practitioner", "PractitionerRole", "Appointment") and \
                not rid.strip():
            problems.add(_at(path, "id"), f"a {kind} needs an id")
            continue
        if kind == "Location" and rid.strip() and isinstance(r.get("name"), str) \
                and r["name"].strip():
            locations[rid] = r["name"].strip()
        if kind == "Patient":
            patients[rid] = path
        elif kind == "Practitioner":
            practitioners[rid] = path
        elif kind == "PractitionerRole":
            ref = _reference(r.get("practitioner"))
            if ref is None or ref[0] != "Practitioner":
                problems.add(_at(path, "practitioner"), "expected a reference Practitioner/ID")
                continue
            role_practitioner[rid] = ref[1]
            for j, concept in enumerate(r.get("code", []) if isinstance(r.get("code"), list) else []):
                named = [_ROLES[c.lower()] for c in _codes(concept) if c.lower() in _ROLES]
                if not named:
                    problems.add(_at(path, f"code[{j}]"), "expected a role: "
                                 f"{', '.join(_ROLES)}, got {shown(_codes(concept))}")
                roles_of[ref[1]].extend(named[:1])
        elif kind == "Condition":
            clinical = _status(r.get("clinicalStatus"), CLINICAL, "clinical status",
                               _at(path, "clinicalStatus"), problems)
            verified = _status(r.get("verificationStatus"), VERIFICATION,
                               "verification status", _at(path, "verificationStatus"), problems)
            ref = _reference(r.get("subject"))
            if ref is None or ref[0] != "Patient":
                problems.add(_at(path, "subject"), "expected a reference Patient/ID")
                continue
            if clinical is not False and verified is not False:
                conditions.append((path, ref[1], _icd(r.get("code"))))
    for path, pid, codes in conditions:
        if pid not in patients:
            problems.add(_at(path, "subject"), f"names Patient/{pid}, which the bundle does "
                         "not hold: its diagnosis would belong to no one")
        diagnoses[pid].extend(codes)
    sessions: list[tuple[str, Any]] = []
    for path, r in found:
        if r.get("resourceType") != "Appointment" or not isinstance(r.get("id"), str):
            continue
        state = r.get("status")
        if isinstance(state, str) and state in NOT_SESSIONS:
            continue
        if not isinstance(state, str) or state not in SESSION_STATUSES:
            problems.add(_at(path, "status"), "expected an Appointment status (sessions: "
                         f"{', '.join(sorted(SESSION_STATUSES))}; not sessions: "
                         f"{', '.join(sorted(NOT_SESSIONS))}), got {shown(state)}")
            continue
        entry = _appointment(r, path, problems, role_practitioner, locations)
        if entry is not None:
            sessions.append((path, entry))
            patients_of = [p.ref.rpartition("/")[2] for p in entry.attendees
                           if p.role == "Patient" and p.ref]
            for concept in r.get("reasonCode", []) if isinstance(r.get("reasonCode"), list) else []:
                for pid in patients_of:
                    diagnoses[pid].extend(_icd(concept))
    return {
        "patients": [(path, {"id": pid, "diagnoses": list(dict.fromkeys(diagnoses.get(pid, [])))})
                     for pid, path in patients.items()],
        "clinicians": [(path, {"id": cid, "roles": list(dict.fromkeys(roles_of.get(cid, [])))})
                       for cid, path in practitioners.items()],
        "sessions": sessions,
    }


_OFFSET = re.compile(r"(Z|([+-])(\d\d):(\d\d))$")


def _offset_zone(text: Any) -> str | None:
    """The zone a FHIR instant's offset names, where one does (``-05:00`` is
    ``Etc/GMT+5``; ``Z`` is ``UTC``): how its time is shown when nothing else names a
    zone. An offset of part of an hour names none."""
    match = _OFFSET.search(text) if isinstance(text, str) else None
    if match is None:
        return None
    if match.group(1) == "Z":
        return "UTC"
    hours, minutes = int(match.group(3)), int(match.group(4))
    if minutes or hours > 12:
        return None
    if hours == 0:
        return "UTC"
    return f"Etc/GMT{'-' if match.group(2) == '+' else '+'}{hours}"


def _appointment(r: dict[str, Any], path: str, problems: Problems,
                 role_practitioner: dict[str, str], locations: dict[str, str]) -> Entry:
    """The Appointment as an Entry for the mapping step: its participants as people
    (Patient, Practitioner; a PractitionerRole as its practitioner) and its room (a
    Location participant: the bundle's Location's name, else the reference's display,
    else its id), every code of its appointmentType, serviceType and serviceCategory,
    its description, its times."""
    people: list[Person] = []
    rooms: list[str] = []
    participants = r.get("participant")
    if not isinstance(participants, list):
        participants = []
    for j, p in enumerate(participants):
        actor = p.get("actor") if isinstance(p, dict) else None
        ref = _reference(actor)
        if ref is None:
            continue
        kind, rid = ref
        display = actor.get("display") if isinstance(actor, dict) else None
        name = display.strip() if isinstance(display, str) and display.strip() else None
        if kind == "PractitionerRole":
            if rid not in role_practitioner:
                problems.add(_at(path, f"participant[{j}].actor"),
                             f"no PractitionerRole {shown(rid)} in the bundle")
                continue
            kind, rid = "Practitioner", role_practitioner[rid]
        if kind in ("Patient", "Practitioner"):
            people.append(Person(name=name, role=kind, ref=f"{kind}/{rid}"))
        elif kind == "Location":
            room = locations.get(rid) or name or rid
            if room not in rooms:
                rooms.append(room)
            if len(rooms) > 1:
                problems.add(_at(path, f"participant[{j}].actor"), "a session has one room; "
                             f"this appointment names {shown(rooms)}")
    given: dict[str, Any] = {}
    kinds = [_KINDS[c.lower()] for c in _codes(r.get("appointmentType")) if c.lower() in _KINDS]
    if kinds:
        given["kind"] = kinds[0]
    services = r.get("serviceType")
    if isinstance(services, list) and services and (modalities := _codes(services[0])):
        given["modality"] = modalities[0]
    codes = [*_codes(r.get("appointmentType"))]
    for key in ("serviceType", "serviceCategory"):
        concepts = r.get(key)
        for concept in concepts if isinstance(concepts, list) else []:
            codes.extend(_codes(concept))
    times: dict[str, Any] = {}
    before = len(problems.items)  # a participant's problem is told with the entry's others
    if not isinstance(r.get("start"), str):
        problems.add(_at(path, "start"), "an appointment in a booked status needs its start")
    else:
        times["start"] = r["start"]
    if isinstance(r.get("end"), str):
        times["end"] = r["end"]
    elif isinstance(r.get("minutesDuration"), int) and not isinstance(r.get("minutesDuration"), bool):
        times["duration"] = f"{r['minutesDuration']}m"
    else:
        problems.add(_at(path, "end"), "an appointment needs its end or minutesDuration")
    description = r.get("description")
    return Entry(id=r["id"], where=path, broken=len(problems.items) != before,
                 zone=_offset_zone(times.get("start")), codes=tuple(dict.fromkeys(codes)),
                 summary=description if isinstance(description, str) else None,
                 given=given, attendees=tuple(people), typed=True, times=times,
                 room=rooms[0] if rooms else None,
                 at={"kind": "appointmentType", "patient": "participant",
                     "clinician": "participant"})
