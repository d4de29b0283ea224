"""Groups, co-therapists and rooms (SPEC §11) at every door: what a group session
counts for, the findings it gives, and the input kapcheck refuses (exit 2, every problem
at once, with places)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kapcheck.protocol import load_protocol, load_schedule
from kapcheck.protocol.errors import ScheduleError
from kapcheck.rules import Checker, validate

from .test_edges import assert_unusable, kapcheck

ROSTER = """\
timezone: America/New_York
clinicians:
  - {id: dr-lee, roles: [prescriber]}
  - {id: t-ortiz, roles: [therapist]}
  - {id: t-nguyen, roles: [therapist]}
patients:
  - {id: P-1, diagnoses: [F33.2]}
  - {id: P-2, diagnoses: [F33.2]}
  - {id: P-3, diagnoses: [F33.2]}
"""
GROUP = ("  - {id: G-1, patients: [P-1, P-2, P-3], kind: integration, modality: CBT, "
         "start: 2026-03-09T17:00, duration: 90m, clinicians: [t-ortiz, t-nguyen], "
         "room: \"Room A\"}\n")


def schedule_file(tmp_path: Path, sessions: str, name: str = "clinic.yaml") -> Path:
    path = tmp_path / name
    path.write_text(ROSTER + "sessions:\n" + sessions)
    return path


def test_every_bad_group_is_named_at_once_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(ROSTER.replace(
        "{id: P-3, diagnoses: [F33.2]}",
        "{id: P-3, diagnoses: [F33.2], records: {Consent: 2026-01-01, rems-enrollment: soon}}")
        + "sessions:\n"
        "  - {id: G-1, patient: P-1, patients: [P-1, P-2], kind: dosing, start: 2026-03-09T10:00, duration: 2h, clinician: dr-lee}\n"
        "  - {id: G-2, patients: [], kind: dosing, start: 2026-03-10T10:00, duration: 2h, clinician: dr-lee}\n"
        "  - {id: G-3, patients: [P-1, P-2, P-1], kind: dosing, start: 2026-03-11T10:00, duration: 2h, clinician: dr-lee}\n"
        f"  - {{id: G-4, patient: P-1, kind: dosing, start: 2026-03-12T10:00, duration: 2h, clinician: dr-lee, room: \"{'R' * 65}\"}}\n"
        "  - {id: G-5, patient: P-1, kind: integration, modality: CBT, start: 2026-03-13T10:00, duration: 1h, clinician: t-ortiz, clinicians: [t-ortiz]}\n")
    result = kapcheck("validate", str(path))
    assert_unusable(
        result,
        "bad.yaml:9:54: patients[2].records.Consent (patient P-3): a record name is lower-case letters",
        "records.rems-enrollment (patient P-3): expected a date such as 2026-01-05, got 'soon'",
        "sessions[0] (session G-1): give either patient or patients, not both",
        "sessions[1].patients (session G-2): expected at least one patient id, got an empty list",
        "sessions[2].patients[2] (session G-3): patient 'P-1' is listed twice in one session "
        "(first at patients[0])",
        "sessions[3].room (session G-4): a room's name is at most 64 characters; this one has 65",
        "sessions[4] (session G-5): give either clinician or clinicians, not both")
    assert "7 problems" in result.stderr, result.stderr


def test_bad_groups_in_csv_are_named_by_line(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER)
    csv = tmp_path / "sessions.csv"
    csv.write_text("id,patients,kind,start,duration,clinicians,modality,room\n"
                   "G-1,P-1;P-2,integration,2026-03-09T17:00,90m,t-ortiz;t-nguyen,CBT,Room A\n"
                   "G-2,P-1;;P-2,integration,2026-03-10T17:00,90m,t-ortiz,CBT,\n"
                   "G-3,P-1;P-1,integration,2026-03-11T17:00,90m,t-ortiz,CBT,\n"
                   "G-4,P-1;P-9,integration,2026-03-12T17:00,90m,t-ortiz;t-x,CBT,\n")
    result = kapcheck("validate", str(roster), str(csv))
    assert_unusable(result, "sessions.csv: line 3, column patients[1]: expected an id, got "
                    "empty text", "line 4, column patients[1]: patient 'P-1' is listed twice",
                    "line 5, column patients[1]: no patient with id 'P-9'",
                    "line 5, column clinicians[1]: no clinician with id 't-x'")
    assert "4 problems" in result.stderr


def test_a_group_session_counts_for_each_patient_and_names_them(tmp_path: Path) -> None:
    schedule = load_schedule(schedule_file(tmp_path, GROUP + (
        "  - {id: D-1, patient: P-1, kind: dosing, start: 2026-03-09T09:00, duration: 2h, clinician: dr-lee, room: \"Room A\"}\n"
        "  - {id: D-2, patient: P-2, kind: dosing, start: 2026-03-05T09:00, duration: 2h, clinician: dr-lee}\n")))
    report = validate(schedule, load_protocol("kap"))
    late = {(f.patient, f.session) for f in report.findings if f.rule == "KAP-INT-001"}
    # P-1's integration (G-1) is within 72 hours of D-1; P-2's is not within 72 of D-2.
    assert late == {("P-2", "D-2")}
    assert not [f for f in report.findings if f.rule == "KAP-ROOM-001"]
    # G-1 is also each patient's session in the overlap rule: none overlaps D-1 (ends 11:00).
    assert not [f for f in report.findings if f.rule in ("KAP-OVL-001", "KAP-CLIN-001")]


def test_a_room_conflict_with_a_group_is_one_finding_per_patient_and_names_a_free_room(
        tmp_path: Path) -> None:
    schedule = load_schedule(schedule_file(tmp_path, GROUP + (
        "  - {id: D-1, patient: P-1, kind: dosing, start: 2026-03-09T09:00, duration: 2h, clinician: dr-lee, room: \"Room B\"}\n"
        "  - {id: T-1, patient: P-1, kind: psychotherapy, modality: CBT, start: 2026-03-09T16:00, duration: 2h, clinician: dr-lee, room: \"Room A\"}\n")))
    report = validate(schedule, load_protocol("kap"))
    room = [f for f in report.findings if f.rule == "KAP-ROOM-001"]
    assert sorted((f.patient, f.session, f.related) for f in room) == [
        ("P-1", "G-1", ("T-1",)), ("P-2", "G-1", ("T-1",)), ("P-3", "G-1", ("T-1",))]
    assert all("book it in Room B (free then)" in f.suggestion for f in room)


def test_co_therapists_double_booked_by_one_session_are_one_finding_per_patient(
        tmp_path: Path) -> None:
    schedule = load_schedule(schedule_file(tmp_path, GROUP + GROUP.replace("G-1", "G-2")
                                           .replace("17:00", "18:00")))
    report = validate(schedule, load_protocol("kap"))
    double = [(f.patient, f.session, f.related) for f in report.findings
              if f.rule == "KAP-CLIN-001"]
    assert double == [("P-1", "G-2", ("G-1",)), ("P-2", "G-2", ("G-1",)),
                      ("P-3", "G-2", ("G-1",))]
    checker = Checker(schedule, load_protocol("kap"))
    change = checker.propose(move=[{"id": "G-2", "start": "2026-03-09T18:30"}])
    assert {(f.rule, f.patient) for f in change.resolved} >= {
        ("KAP-CLIN-001", "P-1"), ("KAP-OVL-001", "P-3")}
    assert change.introduced == ()


def test_a_proposal_may_book_a_group_and_move_it_to_a_team(tmp_path: Path) -> None:
    schedule = load_schedule(schedule_file(tmp_path, GROUP))
    checker = Checker(schedule, load_protocol("oregon-psilocybin"))
    change = checker.propose(add=[{"id": "A-1", "patients": ["P-1", "P-2", "P-3"],
                                   "kind": "dosing", "start": "2026-03-20T09:00",
                                   "duration": "6h", "clinician": "t-ortiz", "dose_mg": 40}])
    # 40 mg: two clients per facilitator; three clients need a second facilitator.
    ratio = [f for f in change.introduced if f.rule == "OR-PSI-GRP-001"]
    assert [f.patient for f in ratio] == ["P-1", "P-2", "P-3"]
    assert "Add 1 more clinician(s) to A-1, or move 1 of its patients" in ratio[0].suggestion
    checker.commit(change)
    fixed = checker.propose(move=[{"id": "A-1", "clinicians": ["t-ortiz", "t-nguyen"]}])
    assert [f.patient for f in fixed.resolved if f.rule == "OR-PSI-GRP-001"] == \
        ["P-1", "P-2", "P-3"]


def test_a_fhir_group_with_co_therapists_and_a_location_reads_as_the_yaml(
        tmp_path: Path) -> None:
    yaml_schedule = load_schedule(schedule_file(tmp_path, GROUP))
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Location", "id": "loc-a", "name": "Room A"}},
        {"resource": {
            "resourceType": "Appointment", "id": "G-1", "status": "booked",
            "appointmentType": {"coding": [{"code": "integration"}]},
            "serviceType": [{"text": "CBT"}],
            "start": "2026-03-09T17:00:00-04:00", "end": "2026-03-09T18:30:00-04:00",
            "participant": [{"actor": {"reference": f"Patient/P-{n}"}} for n in (1, 2, 3)]
            + [{"actor": {"reference": "Practitioner/t-ortiz"}},
               {"actor": {"reference": "Practitioner/t-nguyen"}},
               {"actor": {"reference": "Location/loc-a"}}]}}]}
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    fhir = load_schedule([roster, path])
    (a,), (b,) = yaml_schedule.sessions, fhir.sessions
    assert (a.patients, a.clinicians, a.room, a.start, a.end) == \
        (b.patients, b.clinicians, b.room, b.start, b.end)


def test_a_patient_twice_among_an_appointments_participants_is_refused(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": [{"resource": {
        "resourceType": "Appointment", "id": "G-1", "status": "booked",
        "appointmentType": {"coding": [{"code": "integration"}]},
        "serviceType": [{"text": "CBT"}], "start": "2026-03-09T17:00:00-04:00",
        "minutesDuration": 90,
        "participant": [{"actor": {"reference": "Patient/P-1"}},
                        {"actor": {"reference": "Patient/P-1"}},
                        {"actor": {"reference": "Practitioner/t-ortiz"}}]}}]}))
    with pytest.raises(ScheduleError, match="'P-1' is named twice in one session"):
        load_schedule([roster, path])


def test_a_calendar_group_names_every_attendee_who_is_not_a_clinician(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER)
    ics = tmp_path / "c.ics"
    ics.write_text("\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN",
        "X-WR-TIMEZONE:America/New_York", "BEGIN:VEVENT", "UID:G-1",
        "DTSTART;TZID=America/New_York:20260309T170000",
        "DTEND;TZID=America/New_York:20260309T183000", "CATEGORIES:integration,CBT",
        "ORGANIZER;CN=t-ortiz:mailto:t-ortiz@clinic.example",
        "ATTENDEE;CN=t-ortiz;ROLE=REQ-PARTICIPANT:mailto:t-ortiz@clinic.example",
        "ATTENDEE;CN=t-nguyen;ROLE=REQ-PARTICIPANT:mailto:t-nguyen@clinic.example",
        "ATTENDEE;CN=P-1;ROLE=REQ-PARTICIPANT:mailto:p1@example.com",
        "ATTENDEE;CN=P-2:mailto:p2@example.com",
        "ATTENDEE;CN=P-3;ROLE=REQ-PARTICIPANT:mailto:p3@example.com",
        "ATTENDEE;CN=Observer;ROLE=OPT-PARTICIPANT:mailto:o@example.com",
        "LOCATION:Room A", "END:VEVENT", "END:VCALENDAR", ""]))
    (s,) = load_schedule([roster, ics]).sessions
    assert s.patients == ("P-1", "P-2", "P-3")
    assert s.clinicians == ("t-ortiz", "t-nguyen") and s.room == "Room A"
