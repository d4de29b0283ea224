"""FHIR R4 bundles: the same clinic as YAML and as FHIR gives the same findings; every
problem is named by its path in the bundle; statuses that are not sessions are skipped."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from kapcheck.protocol import Schedule, ScheduleError, load_protocol, load_schedule
from kapcheck.rules import validate

from .generate import build, protocol_variant

DATA = Path(__file__).resolve().parent / "data" / "fhir"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def to_fhir(schedule: Schedule) -> dict[str, Any]:
    """A schedule as the bundle an EHR would export (roles through PractitionerRole)."""
    entries: list[dict[str, Any]] = []
    for c in schedule.clinicians:
        entries.append({"resource": {"resourceType": "Practitioner", "id": c.id}})
        entries.append({"resource": {"resourceType": "PractitionerRole", "id": f"role-{c.id}",
                                     "practitioner": {"reference": f"Practitioner/{c.id}"},
                                     "code": [{"coding": [{"code": r.value}]} for r in
                                              sorted(c.roles, key=lambda r: r.value)]}})
    for p in schedule.patients:
        entries.append({"resource": {"resourceType": "Patient", "id": p.id}})
        for n, code in enumerate(p.diagnoses):
            entries.append({"resource": {"resourceType": "Condition", "id": f"{p.id}-dx{n}",
                                         "subject": {"reference": f"Patient/{p.id}"},
                                         "code": {"coding": [{"system": ICD, "code": code}]}}})
    rooms = sorted({s.room for s in schedule.sessions if s.room is not None})
    for n, room in enumerate(rooms):  # every other room by its Location, the rest by display
        if n % 2 == 0:
            entries.append({"resource": {"resourceType": "Location", "id": f"loc-{n}",
                                         "name": room}})
    for s in schedule.sessions:
        # Every patient and clinician of a group, in order, and its room (SPEC §11).
        participants: list[dict[str, Any]] = [
            {"actor": {"reference": f"Patient/{pid}"}} for pid in s.patients]
        participants += [{"actor": {"reference": f"PractitionerRole/role-{cid}"}}
                         for cid in s.clinicians]
        if s.room is not None:
            n = rooms.index(s.room)
            participants.append({"actor": {"reference": f"Location/loc-{n}"}
                                 | ({} if n % 2 == 0 else {"display": s.room})})
        appointment: dict[str, Any] = {
            "resourceType": "Appointment", "id": s.id, "status": "booked",
            "appointmentType": {"coding": [{"code": s.kind.value}]},
            "start": s.start.isoformat(), "end": s.end.isoformat(),
            "participant": participants}
        if s.modality:
            appointment["serviceType"] = [{"text": s.modality}]
        entries.append({"resource": appointment})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def keys(report: Any) -> list[tuple[Any, ...]]:
    return [(f.rule, f.patient, f.session, f.message, f.suggestion) for f in report.findings]


def test_generated_clinics_give_the_same_findings_as_fhir_and_as_the_model(tmp_path: Path) -> None:
    rng = random.Random(12)
    for n in range(60):
        schedule = build(rng.choice)
        protocol = protocol_variant(rng.choice)
        path = tmp_path / f"bundle-{n}.json"
        path.write_text(json.dumps(to_fhir(schedule)))
        # Messages show local times: read the bundle in the schedule's timezone.
        loaded = load_schedule(path, timezone=schedule.timezone)
        assert keys(validate(loaded, protocol)) == keys(validate(schedule, protocol))


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}


PATIENT = {"resourceType": "Patient", "id": "p1"}
DOCTOR = {"resourceType": "Practitioner", "id": "dr"}
ROLE = {"resourceType": "PractitionerRole", "id": "dr-role",
        "practitioner": {"reference": "Practitioner/dr"}, "code": [{"text": "Prescriber"}]}


def appointment(**fields: Any) -> dict[str, Any]:
    base = {"resourceType": "Appointment", "id": "a1", "status": "booked",
            "appointmentType": {"coding": [{"code": "dosing"}]},
            "start": "2026-03-04T10:00:00-05:00", "minutesDuration": 120,
            "participant": [{"actor": {"reference": "Patient/p1"}},
                            {"actor": {"reference": "PractitionerRole/dr-role"}}]}
    base.update(fields)
    return base


def load(tmp_path: Path, doc: dict[str, Any]) -> Schedule:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    return load_schedule(path)


def test_minutes_duration_roles_and_reason_codes_are_read(tmp_path: Path) -> None:
    schedule = load(tmp_path, bundle(PATIENT, DOCTOR, ROLE, appointment(
        reasonCode=[{"coding": [{"system": ICD, "code": "F33.2"}]}])))
    [s] = schedule.sessions
    assert (s.patient, s.clinician, s.kind.value) == ("p1", "dr", "dosing")
    assert (s.end - s.start).total_seconds() == 7200
    assert schedule.patient_by_id["p1"].diagnoses == ("F33.2",)
    assert {r.value for r in schedule.clinician_by_id["dr"].roles} == {"prescriber"}


def test_statuses_that_are_not_sessions_are_skipped_and_resolved_conditions_ignored(
        tmp_path: Path) -> None:
    resolved = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                "clinicalStatus": {"coding": [{"code": "resolved"}]},
                "code": {"coding": [{"system": ICD, "code": "F33.2"}]}}
    schedule = load(tmp_path, bundle(PATIENT, DOCTOR, ROLE, resolved,
                                     appointment(status="cancelled"),
                                     appointment(id="a2", status="noshow")))
    assert schedule.sessions == () and schedule.patient_by_id["p1"].diagnoses == ()


def test_every_problem_names_its_path_in_the_bundle(tmp_path: Path) -> None:
    doc = bundle(PATIENT, DOCTOR, ROLE,
                 appointment(participant=[{"actor": {"reference": "PractitionerRole/nobody"}}]),
                 appointment(id="a2", start=None, minutesDuration=None,
                             appointmentType={"text": "massage"}),
                 appointment(id="a3", participant=[{"actor": {"reference": "Patient/p404"}},
                                                   {"actor": {"reference": "Practitioner/dr"}}]))
    with pytest.raises(ScheduleError) as err:
        load(tmp_path, doc)
    text = str(err.value)
    for expected in ("entry[3].resource.participant[0].actor: no PractitionerRole 'nobody'",
                     "entry[3].resource.participant: no participant is a Patient",
                     "entry[4].resource.appointmentType: expected a code naming a session kind",
                     "entry[4].resource.start", "entry[4].resource.end",
                     "entry[5].resource.patient: no patient with id 'p404'"):
        assert expected in text, text


def test_the_published_hl7_example_is_a_clear_input_error(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as err:
        load_schedule(DATA / "appointment-example.json")
    assert "appointmentType: expected a code naming a session kind" in str(err.value)


def test_the_published_two_doctor_example_names_each_problem(tmp_path: Path) -> None:
    """Two practitioners on one appointment are its co-clinicians (SPEC §11), not a
    problem; the walk-in type is no session kind, and only that is named."""
    with pytest.raises(ScheduleError) as err:
        load_schedule(DATA / "appointment-example2doctors.json")
    text = str(err.value)
    assert "participant" not in text
    assert "appointmentType: expected a code naming a session kind" in text and "'wi'" in text
    assert len(err.value.problems) == 1


def test_rosters_may_come_from_another_file_of_the_run(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text("clinicians: [{id: dr, roles: [prescriber]}]\n"
                      "patients: [{id: p1, diagnoses: [F33.2]}]\n")
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(appointment(participant=[
        {"actor": {"reference": "Patient/p1"}}, {"actor": {"reference": "Practitioner/dr"}}]))))
    schedule = load_schedule([roster, path])
    report = validate(schedule, load_protocol("kap"))
    assert {f.rule for f in report.findings} >= {"KAP-INT-001", "KAP-PREP-001"}


def test_a_status_or_coding_of_the_wrong_shape_is_a_problem_not_a_crash(
        tmp_path: Path) -> None:
    """The fuzzer found a list as an appointment's status raising TypeError (exit 3)."""
    doc = bundle(PATIENT, DOCTOR, ROLE, appointment(status=["booked"]),
                 appointment(id="a2", appointmentType={"coding": 5}),
                 {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                  "code": {"coding": {"code": "F33.2"}}})
    with pytest.raises(ScheduleError) as err:
        load(tmp_path, doc)
    text = str(err.value)
    assert "entry[3].resource.status: expected an Appointment status (sessions: arrived, " in text
    assert "got ['booked']" in text
    assert "entry[4].resource.appointmentType: expected a code naming a session kind" in text


def _one_patient(condition: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Practitioner", "id": "dr"}},
        {"resource": {"resourceType": "PractitionerRole", "id": "r",
                      "practitioner": {"reference": "Practitioner/dr"},
                      "code": [{"coding": [{"code": "prescriber"}]}]}},
        {"resource": {"resourceType": "Patient", "id": "p1"}},
        {"resource": {"resourceType": "Condition", "id": "c1",
                      "subject": {"reference": "Patient/p1"},
                      "code": {"coding": [{"system": ICD, "code": "F33.2"}]}, **condition}},
        {"resource": {"resourceType": "Appointment", "id": "a1", "status": "booked",
                      "appointmentType": {"coding": [{"code": "dosing"}]},
                      "start": "2026-03-04T10:00:00-05:00", "minutesDuration": 120,
                      "participant": [{"actor": {"reference": "Patient/p1"}},
                                      {"actor": {"reference": "Practitioner/dr"}}]}}]}


def _diagnoses(tmp_path: Path, condition: dict[str, Any]) -> tuple[str, ...]:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_one_patient(condition)))
    return load_schedule(path).patient_by_id["p1"].diagnoses


def _status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{system}",
                        "code": code}]}


@pytest.mark.parametrize(("field", "system", "code", "counts"), [
    ("verificationStatus", "condition-ver-status", "confirmed", True),
    ("verificationStatus", "condition-ver-status", "entered-in-error", False),
    ("verificationStatus", "condition-ver-status", "refuted", False),
    ("verificationStatus", "condition-ver-status", "provisional", False),
    ("clinicalStatus", "condition-clinical", "active", True),
    ("clinicalStatus", "condition-clinical", "relapse", True),
    ("clinicalStatus", "condition-clinical", "remission", False),
    ("clinicalStatus", "condition-clinical", "resolved", False),
])
def test_a_condition_counts_as_its_statuses_say(tmp_path: Path, field: str, system: str,
                                                 code: str, counts: bool) -> None:
    assert _diagnoses(tmp_path, {field: _status(system, code)}) == (("F33.2",) if counts else ())


def test_a_condition_entered_in_error_leaves_a_dosed_patient_without_a_diagnosis(
        tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_one_patient(
        {"verificationStatus": _status("condition-ver-status", "entered-in-error")})))
    rules = {f.rule for f in validate(load_schedule(path), load_protocol("kap")).findings}
    assert "KAP-DX-001" in rules


def test_an_unknown_condition_status_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match=r"entry\[3\]\.resource\.clinicalStatus: expected a "
                                            r"clinical status \(active, "):
        _diagnoses(tmp_path, {"clinicalStatus": _status("condition-clinical", "actve")})


@pytest.mark.parametrize("kind", ["Appointmnet", "appointment", "", "Conditon"])
def test_a_misspelled_resource_type_is_a_problem_not_a_vanished_resource(
        tmp_path: Path, kind: str) -> None:
    bundle = _one_patient({})
    bundle["entry"][4]["resource"]["resourceType"] = kind
    bundle["entry"][3]["resource"]["resourceType"] = kind
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    with pytest.raises(ScheduleError, match=r"entry\[4\]\.resource(\.resourceType)?: "):
        load_schedule(path)


def test_a_condition_for_a_patient_the_bundle_lacks_is_a_problem(tmp_path: Path) -> None:
    bundle = _one_patient({"subject": {"reference": "Patient/p2"}})
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    with pytest.raises(ScheduleError, match=r"entry\[3\]\.resource\.subject: names Patient/p2, "
                                            "which the bundle does not hold"):
        load_schedule(path)


def test_other_resource_types_are_not_read(tmp_path: Path) -> None:
    bundle = _one_patient({})
    bundle["entry"].append({"resource": {"resourceType": "Location", "id": "room-a"}})
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    assert len(load_schedule(path).sessions) == 1


def test_a_time_without_an_offset_gets_advice_that_fits_a_bundle(tmp_path: Path) -> None:
    bundle = _one_patient({})
    bundle["entry"][4]["resource"]["start"] = "2026-03-04T10:00:00"
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    with pytest.raises(ScheduleError) as err:
        load_schedule(path)
    assert "FHIR instants carry their offset" in str(err.value)
    assert "timezone:" not in str(err.value)
