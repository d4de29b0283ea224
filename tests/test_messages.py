"""Input errors a new user can act on: YAML lines and columns, the session's id, why a
date is impossible, "did you mean", problems in file order, one line for a document
without a timezone, and CSV hints for --timezone and the rosters."""

from __future__ import annotations

from pathlib import Path

import pytest

from kapcheck.protocol import ScheduleError, load_schedule

CLINIC = """\
schema: kapcheck/schedule@1
timezone: America/New_York
clinicians:
  - {id: dr-ames, roles: [prescriber]}
  - {id: t-ortiz, roles: [therapist]}
patients:
  - {id: P-1, diagnoses: [F33.2]}
sessions:
  - {id: S-1, patient: P-1, kind: preparation, start: 2026-04-01T10:00, duration: 60m, clinician: t-ortiz}
  - {id: S-2, patient: P-1, kind: dosing, start: 2026-04-31T11:00, duration: 2h, clinican: dr-ames}
  - {id: S-3, patient: P-1, kind: integation, modality: CBT, start: 2026-04-06T10:00, duration: 50m, clinician: t-ortiz}
  - {id: S-4, patient: P-1, kind: dosing, start: 2026-04-08T10:00, duration: 2h, clinician: dr-amess}
"""


def problems_of(*paths: Path, **options: object) -> list[str]:
    with pytest.raises(ScheduleError) as err:
        load_schedule(list(paths), **options)  # type: ignore[arg-type]
    return [str(p) for p in err.value.problems]


def test_yaml_problems_carry_line_column_and_session_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "clinic.yaml"
    path.write_text(CLINIC)
    lines = problems_of(path)
    assert lines == [
        f"{path}:10:5: sessions[1].clinician (session S-2): is required (or clinicians: a list of ids)",
        f"{path}:10:50: sessions[1].start (session S-2): expected an ISO 8601 date and time "
        "such as 2026-03-02T09:00, got '2026-04-31T11:00': April 2026 has 30 days",
        f"{path}:10:92: sessions[1].clinican (session S-2): unknown key; expected one of id, "
        "patient, patients, kind, start, end, duration, clinician, clinicians, modality, route, "
        "dose_mg, room; "
        "did you mean 'clinician'?",
        f"{path}:11:35: sessions[2].kind (session S-3): expected one of preparation | dosing | "
        "integration | psychotherapy | assessment, got 'integation'; did you mean 'integration'?",
        f"{path}:12:93: sessions[3].clinician (session S-4): no clinician with id 'dr-amess' in "
        "the run; did you mean 'dr-ames'?",
    ]


@pytest.mark.parametrize(("start", "why"), [
    ("2026-02-29T10:00", "February 2026 has 28 days"),
    ("2028-02-30T10:00", "February 2028 has 29 days"),
    ("2026-13-01T10:00", "there is no month 13"),
    ("2026-02-28T25:00", "(hour must be in 0..23)"),
])
def test_an_impossible_date_says_why(tmp_path: Path, start: str, why: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(f"id,patient,kind,start,duration,clinician\nS-1,P-1,dosing,{start},2h,dr\n")
    (line,) = [p for p in problems_of(path, timezone="UTC") if "column start" in p]
    assert line.endswith(why), line


def test_a_document_without_timezone_gets_one_line_not_one_per_session(tmp_path: Path) -> None:
    path = tmp_path / "clinic.yaml"
    path.write_text(CLINIC.replace("timezone: America/New_York\n", "")
                    .replace("2026-04-31", "2026-04-03").replace("clinican", "clinician")
                    .replace("integation", "integration").replace("dr-amess", "dr-ames"))
    (line,) = problems_of(path)
    assert line.startswith(f"{path}:8:55: sessions[0].start (session S-1): ")
    assert "has no UTC offset and the document has no timezone" in line
    assert line.endswith("; 3 more times of this file have no offset either")


def test_csv_without_timezone_or_rosters_says_what_to_pass(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,patient,kind,start,duration,clinician\n"
                    + "".join(f"S-{i},P-{i % 3},dosing,2026-04-0{i}T10:00,2h,dr\n"
                              for i in range(1, 9)))
    (line,) = problems_of(path)
    assert "a CSV file names no timezone: pass --timezone" in line
    assert "add `timezone:` to the document" not in line
    lines = problems_of(path, timezone="America/New_York")
    assert lines == [
        f"{path}: line 2, column clinician: the run has no clinicians, and its sessions name 1 "
        "('dr'): give a roster of clinicians, a CSV file with columns id,roles "
        "(--clinicians FILE) or a schedule document with `clinicians:`",
        f"{path}: line 2, column patient: the run has no patients, and its sessions name 3 "
        "('P-0', 'P-1', 'P-2'): give a roster of patients, a CSV file with columns "
        "id,diagnoses (--patients FILE) or a schedule document with `patients:`",
    ]


def test_waiver_file_problems_come_at_once_in_file_order(tmp_path: Path) -> None:
    clinic = tmp_path / "clinic.yaml"
    clinic.write_text(CLINIC.replace("2026-04-31", "2026-04-03").replace("clinican", "clinician")
                      .replace("integation", "integration").replace("dr-amess", "dr-ames"))
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n"
                       "  - {rule: KAP-INT-001, session: S-404, reason: x, approved_by: dr}\n"
                       "  - {rule: KAP-INT-001, reason: x}\n"
                       "  - {rule: KAP-INT-001, patient: P-2, reason: x, approved_by: dr}\n")
    assert problems_of(clinic, waivers=waivers) == [
        f"{waivers}:2:34: waivers[0].session: no session with id 'S-404' in the run; "
        "did you mean 'S-4'?",
        f"{waivers}:3:5: waivers[1].approved_by: is required",
        f"{waivers}:3:5: waivers[1]: name exactly one of session or patient",
        f"{waivers}:4:34: waivers[2].patient: no patient with id 'P-2' in the run",
    ]


def test_a_loaded_session_knows_the_line_it_was_written_on(tmp_path: Path) -> None:
    clinic = tmp_path / "clinic.yaml"
    clinic.write_text(CLINIC.replace("2026-04-31", "2026-04-03").replace("clinican", "clinician")
                      .replace("integation", "integration").replace("dr-amess", "dr-ames"))
    schedule = load_schedule(clinic)
    assert [s.source for s in schedule.sessions] == [
        f"{clinic}:{9 + i}: sessions[{i}]" for i in range(4)]
