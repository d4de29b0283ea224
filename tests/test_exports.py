"""Exports as real systems write them (examples/exports/: Google Calendar, Outlook, an EHR
search, a practice system's CSV), read through their mapping files: each gives the
findings its kapcheck-schedule twin gives, sets aside what its mapping skips and says so;
a mapping's every problem is an input error naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kapcheck.cli import app
from kapcheck.protocol import ScheduleError, load_mapping, load_protocol, load_schedule
from kapcheck.rules import validate

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = ROOT / "examples" / "exports"
SOURCES = {"google": "calendar.ics", "outlook": "calendar.ics", "ehr": "searchset.json",
           "practice-csv": "appointments.csv"}
runner = CliRunner()


def findings(schedule: object) -> list[tuple[object, ...]]:
    report = validate(schedule, load_protocol("kap"))  # type: ignore[arg-type]
    return [(f.rule, f.severity, f.patient, f.session, f.related, f.message, f.suggestion)
            for f in report.findings]


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_an_export_gives_the_findings_of_its_twin(source: str) -> None:
    folder = EXPORTS / source
    export = load_schedule([folder / "roster.yaml", folder / SOURCES[source]],
                           mapping=folder / "mapping.toml")
    twin = load_schedule(folder / "twin.yaml")
    assert [s.id for s in export.sessions] == [s.id for s in twin.sessions]
    assert findings(export) == findings(twin)
    assert findings(export), "each export keeps a finding to show"


def test_google_s_holidays_and_staff_meetings_are_set_aside_and_listed() -> None:
    folder = EXPORTS / "google"
    schedule = load_schedule([folder / "roster.yaml", folder / "calendar.ics"],
                             mapping=folder / "mapping.toml")
    assert [(k.source.rsplit(": ", 1)[1], k.reason) for k in schedule.skipped] == [
        ("VEVENT 9holiday0001@google.com (line 136)", "[[skip]] #1: an all-day event"),
        ("VEVENT 9staff00001@google.com (line 145)",
         "[[skip]] #2: summary matches '(?i)staff meeting|lunch'")]


def test_an_exchange_series_uid_with_its_instance_suffix_is_an_id() -> None:
    folder = EXPORTS / "outlook"
    schedule = load_schedule([folder / "roster.yaml", folder / "calendar.ics"],
                             mapping=folder / "mapping.toml")
    longest = max(schedule.sessions, key=lambda s: len(s.id))
    assert len(longest.id) == 112 + 1 + 16


def test_outlook_times_are_shown_in_central_time_not_utc() -> None:
    folder = EXPORTS / "outlook"
    schedule = load_schedule([folder / "roster.yaml", folder / "calendar.ics"],
                             mapping=folder / "mapping.toml")
    assert {s.zone for s in schedule.sessions} == {"America/Chicago"}


def test_an_ehr_search_takes_its_roles_from_the_roster_beside_it() -> None:
    folder = EXPORTS / "ehr"
    schedule = load_schedule([folder / "roster.yaml", folder / "searchset.json"],
                             mapping=folder / "mapping.toml")
    roles = {c.id: sorted(r.value for r in c.roles) for c in schedule.clinicians}
    assert roles == {"778": ["prescriber"], "912": ["therapist"]}
    assert "KAP-ROLE-001" not in {f[0] for f in findings(schedule)}


def test_a_roster_that_disagrees_with_the_bundle_names_both_places(tmp_path: Path) -> None:
    folder = EXPORTS / "ehr"
    bundle = (folder / "searchset.json").read_text().replace(
        '"resourceType": "Practitioner", "id": "778"',
        '"resourceType": "Practitioner", "id": "778"')
    (tmp_path / "b.json").write_text(bundle)
    roster = (folder / "roster.yaml").read_text()
    (tmp_path / "r1.yaml").write_text(roster)
    (tmp_path / "r2.yaml").write_text(roster.replace("{id: \"778\", roles: [prescriber]}",
                                                     "{id: \"778\", roles: [nurse]}"))
    with pytest.raises(ScheduleError) as err:
        load_schedule([tmp_path / "r1.yaml", tmp_path / "r2.yaml", tmp_path / "b.json"],
                      mapping=folder / "mapping.toml")
    text = str(err.value)
    assert "r2.yaml:8:5: clinicians[0] (clinician 778): gives '778' the roles [nurse]" in text
    assert "r1.yaml: clinicians[0] gives [prescriber]: one person, two different values" in text
    assert "duplicate" not in text


def test_a_practice_csv_s_cancelled_and_no_show_rows_are_not_sessions() -> None:
    folder = EXPORTS / "practice-csv"
    schedule = load_schedule([folder / "roster.yaml", folder / "appointments.csv"],
                             mapping=folder / "mapping.toml")
    assert {"A-5006", "A-5007"}.isdisjoint(schedule.session_by_id)
    assert schedule.session_by_id["A-5004"].kind.value == "integration"


def test_the_cli_reads_a_mapping_and_lists_what_it_skipped() -> None:
    folder = EXPORTS / "google"
    result = runner.invoke(app, ["validate", str(folder / "roster.yaml"),
                                 str(folder / "calendar.ics"), "--mapping",
                                 str(folder / "mapping.toml"), "--format", "json"])
    assert result.exit_code == 1
    assert '"reason": "[[skip]] #1: an all-day event"' in result.stdout


# --- bad mappings -----------------------------------------------------------------------


def _mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text)
    return path


def test_every_problem_of_a_mapping_file_at_once(tmp_path: Path) -> None:
    path = _mapping(tmp_path, """
schema = "kapcheck/mapping@1"
colour = "red"
[[session]]
summary = '(unclosed'
kind = "integraton"
[[skip]]
sumary = 'x'
[csv]
start = "When"
start_format = "no percent"
""")
    with pytest.raises(ScheduleError) as err:
        load_mapping(path)
    text = str(err.value)
    for expected in ["m.toml: colour: unknown key", "m.toml: session[0].summary: is not a "
                     "regular expression", "session[0].kind: expected a session kind",
                     "did you mean 'integration'?", "skip[0].sumary: unknown key",
                     "did you mean 'summary'?", "csv.start_format: expected a strftime format"]:
        assert expected in text, text


def test_people_naming_no_roster_id_and_headers_the_file_lacks(tmp_path: Path) -> None:
    folder = EXPORTS / "practice-csv"
    text = (folder / "mapping.toml").read_text()
    text = text.replace('"helen.ng@clinic.example" = "dr-ng"',
                        '"helen.ng@clinic.example" = "dr-nq"')
    text = text.replace('code = "Service Code"', 'code = "Service Kode"')
    path = _mapping(tmp_path, text)
    with pytest.raises(ScheduleError) as err:
        load_schedule([folder / "roster.yaml", folder / "appointments.csv"], mapping=path)
    text = str(err.value)
    assert "m.toml: csv.code: names the header 'Service Kode', which" in text
    assert "did you mean 'Service Code'?" in text
    assert "m.toml: people.'helen.ng@clinic.example': names 'dr-nq', which is no patient" in text


def test_a_date_not_in_start_format_is_named_by_line_and_column(tmp_path: Path) -> None:
    folder = EXPORTS / "practice-csv"
    rows = (folder / "appointments.csv").read_text().replace("03/04/2026 10:00 AM",
                                                             "2026-03-04 10:00")
    (tmp_path / "a.csv").write_text(rows)
    with pytest.raises(ScheduleError, match=r"a.csv: line 4, column Appointment Date/Time: "
                                            r"expected a date and time as '%m/%d/%Y %I:%M %p'"):
        load_schedule([folder / "roster.yaml", tmp_path / "a.csv"],
                      mapping=folder / "mapping.toml")


def test_a_mapping_error_exits_2_naming_the_file(tmp_path: Path) -> None:
    path = _mapping(tmp_path, "[[session]]\nsummary = '('\nkind = \"dosing\"\n")
    folder = EXPORTS / "google"
    result = runner.invoke(app, ["validate", str(folder / "roster.yaml"),
                                 str(folder / "calendar.ics"), "--mapping", str(path)])
    assert result.exit_code == 2
    assert f"{path}: session[0].summary: is not a regular expression" in result.output


# --- calendars as Google writes them -----------------------------------------------------


def _calendar(tmp_path: Path, *events: str) -> list[Path]:
    roster = EXPORTS / "google" / "roster.yaml"
    body = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN",
                        "X-WR-TIMEZONE:America/Los_Angeles", *events, "END:VCALENDAR"])
    (tmp_path / "c.ics").write_text(body + "\r\n")
    return [roster, tmp_path / "c.ics"]


def _event(uid: str, summary: str, *lines: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTART:20260302T090000",
                        "DURATION:PT1H", f"SUMMARY:{summary}", *lines, "END:VEVENT"])


def test_the_organizer_listed_again_as_an_attendee_is_one_person(tmp_path: Path) -> None:
    event = _event("e1", "x", "CATEGORIES:preparation",
                   "ORGANIZER;CN=Tomás Ortiz:mailto:tomas.ortiz@clinic.example",
                   "ATTENDEE;ROLE=REQ-PARTICIPANT;CN=Tomás Ortiz:mailto:tomas.ortiz@clinic.example",
                   "ATTENDEE;ROLE=REQ-PARTICIPANT;CN=Maria Perez:mailto:maria.p2@patients.example")
    schedule = load_schedule(_calendar(tmp_path, event),
                             mapping=EXPORTS / "google" / "mapping.toml")
    s = schedule.sessions[0]
    assert (s.patient, s.clinician) == ("P-002", "t-ortiz")


def test_an_email_and_a_name_mapped_to_two_ids_is_a_problem(tmp_path: Path) -> None:
    event = _event("e1", "x", "CATEGORIES:preparation",
                   "ORGANIZER;CN=Tomás Ortiz:mailto:helen.ng@clinic.example",
                   "ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:p1@patients.example")
    with pytest.raises(ScheduleError, match="'helen.ng@clinic.example' and 'Tomás Ortiz' name "
                                            "one person, whom \\[people\\] maps to 'dr-ng' and "
                                            "'t-ortiz'"):
        load_schedule(_calendar(tmp_path, event), mapping=EXPORTS / "google" / "mapping.toml")


def test_a_series_problem_is_told_once_and_an_override_at_its_own_line(tmp_path: Path) -> None:
    series = _event("s1", "weekly", "CATEGORIES:integraton", "RRULE:FREQ=WEEKLY;COUNT=5",
                    "ORGANIZER:mailto:tomas.ortiz@clinic.example",
                    "ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:p1@patients.example")
    override = _event("s1", "moved", "RECURRENCE-ID:20260309T090000",
                      "ORGANIZER:mailto:tomas.ortiz@clinic.example",
                      "ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:p1@patients.example")
    with pytest.raises(ScheduleError) as err:
        load_schedule(_calendar(tmp_path, series, override),
                      mapping=EXPORTS / "google" / "mapping.toml")
    problems = [str(p) for p in err.value.problems]
    kind = [p for p in problems if "(line 6).CATEGORIES" in p]
    assert len(kind) == 1 and "did you mean 'integration'?" in kind[0]
    assert any("VEVENT s1 (line 16).CATEGORIES" in p for p in problems), problems


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_each_source_page_shows_its_tested_mapping_file(source: str) -> None:
    page = (ROOT / "docs" / "sources" / f"{source}.md").read_text()
    assert (EXPORTS / source / "mapping.toml").read_text() in page


def test_the_mapping_page_documents_every_key() -> None:
    from kapcheck.protocol import mapping

    page = (ROOT / "docs" / "formats" / "mapping.md").read_text()
    for key in (*mapping.TOP, *mapping.CONDITIONS, *mapping.SETS, *mapping.CSV_KEYS):
        assert any(form in page for form in (f"`{key}`", f"{key} =", f"`[[{key}]]`",
                                             f"`[{key}]`")), key
