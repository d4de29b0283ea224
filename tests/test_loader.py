"""Bad input is named precisely: file, path inside it, what was expected; all at once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapcheck.protocol import Kind, ScheduleError, Session, load_schedule, loader
from kapcheck.protocol.errors import Problems

from .helpers import compliant_course, document, write


def problems(tmp_path: Path, doc: dict | str, **kwargs: object) -> list[str]:
    path = write(tmp_path, doc)
    with pytest.raises(ScheduleError) as info:
        load_schedule(path, **kwargs)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def test_a_compliant_course_loads_with_times_in_utc(tmp_path: Path) -> None:
    schedule = load_schedule(write(tmp_path, document(compliant_course())))
    dose = schedule.session_by_id["S-3"]
    assert dose.kind is Kind.DOSING
    assert dose.start == datetime(2026, 3, 4, 15, 0, tzinfo=timezone.utc)  # 10:00 EST
    assert dose.end - dose.start == timedelta(hours=2)
    assert schedule.clinic == "Test Clinic"


def test_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    course = compliant_course()
    course[3]["kindd"] = "integration"
    assert any(p.startswith("sessions[3].kindd: unknown key") for p in problems(tmp_path, document(course)))


def test_unknown_top_level_key_is_rejected(tmp_path: Path) -> None:
    found = problems(tmp_path, document(compliant_course(), sessionz=[]))
    assert any(p.startswith("sessionz: unknown key") for p in found)


def test_dangling_references_are_named(tmp_path: Path) -> None:
    course = compliant_course()
    course[0]["patient"] = "P-404"
    course[1]["clinician"] = "nobody"
    found = problems(tmp_path, document(course))
    assert "sessions[0].patient: no patient with id 'P-404' in the run" in found
    assert "sessions[1].clinician: no clinician with id 'nobody' in the run" in found


def test_duplicate_ids_are_named_with_the_first_place(tmp_path: Path) -> None:
    course = compliant_course()
    course[1]["id"] = "S-1"
    found = problems(tmp_path, document(course))
    assert any(p.startswith("sessions[1].id: duplicate session id 'S-1'") for p in found)


def test_end_before_start_is_rejected(tmp_path: Path) -> None:
    course = compliant_course()
    del course[2]["duration"]
    course[2]["end"] = "2026-03-04T09:00"
    assert any(p.startswith("sessions[2].end: a session ends after it starts")
               for p in problems(tmp_path, document(course)))


def test_end_equal_to_start_is_rejected(tmp_path: Path) -> None:
    course = compliant_course()
    del course[2]["duration"]
    course[2]["end"] = course[2]["start"]
    assert any("ends after it starts" in p for p in problems(tmp_path, document(course)))


def test_both_end_and_duration_is_rejected(tmp_path: Path) -> None:
    course = compliant_course()
    course[2]["end"] = "2026-03-04T12:00"
    assert any("either end or duration" in p for p in problems(tmp_path, document(course)))


def test_neither_end_nor_duration_is_rejected(tmp_path: Path) -> None:
    course = compliant_course()
    del course[2]["duration"]
    assert any(p.startswith("sessions[2].end: is required") for p in problems(tmp_path, document(course)))


@pytest.mark.parametrize("bad", ["2 hours", "90", "h", "PT", "-1h", "0m", "1.5h"])
def test_bad_durations_are_rejected(tmp_path: Path, bad: str) -> None:
    course = compliant_course()
    course[2]["duration"] = bad
    assert any(p.startswith("sessions[2].duration:") for p in problems(tmp_path, document(course)))


@pytest.mark.parametrize("text,minutes", [("90m", 90), ("2h", 120), ("1h30m", 90),
                                          ("PT2H", 120), ("PT1H30M", 90), ("PT90M", 90),
                                          ("pt45m", 45), ("150min", 150)])
def test_every_duration_form_is_read(tmp_path: Path, text: str, minutes: int) -> None:
    course = compliant_course()
    course[2]["duration"] = text
    dose = load_schedule(write(tmp_path, document(course))).session_by_id["S-3"]
    assert dose.duration == timedelta(minutes=minutes)


def test_unknown_kind_lists_the_kinds(tmp_path: Path) -> None:
    course = compliant_course()
    course[2]["kind"] = "infusion"
    found = problems(tmp_path, document(course))
    assert any(p.startswith("sessions[2].kind: expected one of preparation | dosing") for p in found)


def test_unknown_timezone_is_reported_once(tmp_path: Path) -> None:
    found = problems(tmp_path, document(compliant_course(), timezone="Mars/Olympus"))
    assert found == ["timezone: 'Mars/Olympus' is not a known IANA timezone name"]


def test_naive_times_without_timezone_are_rejected(tmp_path: Path) -> None:
    doc = document(compliant_course())
    del doc["timezone"]
    found = problems(tmp_path, doc)
    assert any(p.startswith("sessions[0].start: '2026-03-01T09:00' has no UTC offset") for p in found)


def test_timezone_option_reads_naive_times(tmp_path: Path) -> None:
    doc = document(compliant_course())
    del doc["timezone"]
    schedule = load_schedule(write(tmp_path, doc), timezone="Europe/Paris")
    assert schedule.session_by_id["S-3"].start == datetime(2026, 3, 4, 9, 0, tzinfo=timezone.utc)


def test_the_documents_timezone_wins_over_the_option(tmp_path: Path) -> None:
    schedule = load_schedule(write(tmp_path, document(compliant_course())), timezone="Europe/Paris")
    assert schedule.session_by_id["S-3"].start == datetime(2026, 3, 4, 15, 0, tzinfo=timezone.utc)


def test_times_with_offsets_stand_for_themselves(tmp_path: Path) -> None:
    course = compliant_course()
    course[2]["start"] = "2026-03-04T10:00:00Z"
    course[3]["start"] = "2026-03-05T10:00+01:00"
    schedule = load_schedule(write(tmp_path, document(course)))
    assert schedule.session_by_id["S-3"].start == datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc)
    assert schedule.session_by_id["S-4"].start == datetime(2026, 3, 5, 9, 0, tzinfo=timezone.utc)


def test_a_wall_clock_time_skipped_by_daylight_saving_is_rejected(tmp_path: Path) -> None:
    course = compliant_course()
    course[3]["start"] = "2026-03-08T02:30"  # New York springs from 02:00 to 03:00
    found = problems(tmp_path, document(course))
    assert any("does not exist in America/New_York" in p for p in found)


def test_an_ambiguous_wall_clock_time_is_its_first_occurrence(tmp_path: Path) -> None:
    course = compliant_course()
    course[3]["start"] = "2026-11-01T01:30"  # New York repeats 01:00-02:00
    schedule = load_schedule(write(tmp_path, document(course)))
    assert schedule.session_by_id["S-4"].start == datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)


def test_empty_file_is_an_input_error(tmp_path: Path) -> None:
    assert problems(tmp_path, "") == [": the file is empty; expected a schedule document"]


def test_comment_only_file_is_empty(tmp_path: Path) -> None:
    assert "empty" in problems(tmp_path, "# nothing here\n")[0]


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    found = problems(tmp_path, "sessions: [1, 2\nclinic: }\n")
    assert found[0].startswith("line 2, column")
    assert "is not valid YAML" in found[0]


def test_alias_bomb_is_refused_without_expanding(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    found = problems(tmp_path, bomb)
    assert len(found) == 1 and "aliases (*name) are not allowed" in found[0]


def test_oversized_yaml_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kapcheck.protocol import documents

    monkeypatch.setattr(documents, "MAX_YAML_BYTES", 1024)
    found = problems(tmp_path, document([dict(s, id=f"{s['id']}-{n}") for n in range(5)
                                          for s in compliant_course()]))
    assert len(found) == 1 and "YAML is limited to" in found[0]


def test_deeply_nested_document_is_an_input_error(tmp_path: Path) -> None:
    found = problems(tmp_path, "[" * 5000 + "]" * 5000)
    assert len(found) == 1


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        timezone: UTC
        timezone: Europe/Paris
        """)
    assert "duplicate key 'timezone'" in found[0]


def test_a_list_instead_of_a_document_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, "- a\n- b\n")
    assert found[0].startswith(": expected a mapping")


def test_unsupported_schema_major_version_is_rejected(tmp_path: Path) -> None:
    found = problems(tmp_path, document(compliant_course(), schema="kapcheck/schedule@2"))
    assert found == ["schema: schema major version 2 is not supported; this kapcheck reads "
                     "kapcheck/schedule@1"]


def test_a_minor_schema_version_is_accepted(tmp_path: Path) -> None:
    load_schedule(write(tmp_path, document(compliant_course(), schema="kapcheck/schedule@1.2")))


def test_modality_is_required_for_integration(tmp_path: Path) -> None:
    course = compliant_course()
    del course[3]["modality"]
    assert any(p.startswith("sessions[3].modality: is required for integration")
               for p in problems(tmp_path, document(course)))


def test_route_only_on_dosing_sessions(tmp_path: Path) -> None:
    course = compliant_course()
    course[3]["route"] = "IV"
    assert any(p.startswith("sessions[3].route: applies to dosing sessions only")
               for p in problems(tmp_path, document(course)))


def test_bad_diagnosis_code_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, document(compliant_course(),
                                        patients=[{"id": "P-001", "diagnoses": ["depression"]}]))
    assert any(p.startswith("patients[0].diagnoses[0]: expected an ICD-10-CM code") for p in found)


def test_all_problems_of_a_file_are_reported_together(tmp_path: Path) -> None:
    course = compliant_course()
    course[0]["kind"] = "x"
    course[1]["duration"] = "soon"
    course[2]["clinician"] = "ghost"
    course[3]["start"] = "yesterday"
    assert len(problems(tmp_path, document(course))) == 4


def test_problems_of_several_files_are_reported_together(tmp_path: Path) -> None:
    a = write(tmp_path, "", "a.yaml")
    b = write(tmp_path, "sessions: 3\n", "b.yaml")
    with pytest.raises(ScheduleError) as info:
        load_schedule(a, b)
    assert {p.file for p in info.value.problems} == {str(a), str(b)}


def test_roster_and_sessions_may_stand_in_separate_files(tmp_path: Path) -> None:
    roster = document([])
    sessions = {"timezone": "America/New_York", "sessions": compliant_course()}
    schedule = load_schedule(write(tmp_path, roster, "roster.yaml"),
                             write(tmp_path, sessions, "march.yaml"))
    assert len(schedule.sessions) == 4


def test_json_documents_have_the_same_shape(tmp_path: Path) -> None:
    import json

    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(document(compliant_course())), encoding="utf-8")
    assert len(load_schedule(path).sessions) == 4


def test_invalid_json_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    path.write_text('{"sessions": [}', encoding="utf-8")
    with pytest.raises(ScheduleError) as info:
        load_schedule(path)
    assert "is not valid JSON" in info.value.problems[0].message


def test_numeric_ids_are_read_as_text(tmp_path: Path) -> None:
    schedule = load_schedule(write(tmp_path, """\
        timezone: UTC
        clinicians: [{id: 7, roles: [prescriber]}]
        patients: [{id: 007, diagnoses: [F33.1]}]
        sessions:
          - {id: 1, patient: 007, kind: dosing, start: 2026-03-04T10:00, duration: 2h, clinician: 7}
        """))
    assert schedule.sessions[0].patient == "007" and schedule.sessions[0].id == "1"


def test_csv_sessions_with_csv_rosters(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(
        "id,patient,kind,start,duration,clinician,modality,route\n"
        "S-1,P-001,preparation,2026-03-02T09:00,1h,t-ortiz,,\n"
        "S-2,P-001,dosing,2026-03-04T10:00,2h,dr-lee,,IV\n"
        "S-3,P-001,integration,2026-03-05T10:00,50m,t-ortiz,CBT,\n", encoding="utf-8")
    (tmp_path / "p.csv").write_text("id,diagnoses\nP-001,F33.2;F43.10\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text("id,roles\ndr-lee,prescriber\nt-ortiz,therapist\n",
                                    encoding="utf-8")
    schedule = load_schedule(tmp_path / "s.csv", timezone="America/New_York",
                             patients=tmp_path / "p.csv", clinicians=tmp_path / "c.csv")
    assert [s.kind.value for s in schedule.sessions] == ["preparation", "dosing", "integration"]
    assert schedule.patients[0].diagnoses == ("F33.2", "F43.10")
    assert schedule.session_by_id["S-2"].start == datetime(2026, 3, 4, 15, 0, tzinfo=timezone.utc)


def test_csv_problems_name_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(
        "id,patient,kind,start,duration,clinician,colour\n"
        "S-1,P-001,preparation,2026-03-02T09:00,1h,t-ortiz,red\n", encoding="utf-8")
    with pytest.raises(ScheduleError) as info:
        load_schedule(tmp_path / "s.csv", timezone="UTC")
    assert any("colour" in p.path and "unknown column" in p.message for p in info.value.problems)


def test_csv_on_standard_input_is_recognised(tmp_path: Path) -> None:
    import io

    roster = write(tmp_path, document([]), "roster.yaml")
    stdin = io.BytesIO(b"id,patient,kind,start,duration,clinician,modality,route\n"
                       b"S-1,P-001,dosing,2026-03-04T10:00,2h,dr-lee,,IV\n")
    schedule = load_schedule("-", roster, stdin=stdin)
    assert schedule.session_by_id["S-1"].start == datetime(2026, 3, 4, 15, 0, tzinfo=timezone.utc)


def test_csv_problems_name_the_line_and_the_column(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("id,patient,kind,start,duration,clinician\n"
                                    "S-1,P-001,infusion,2026-03-02T09:00,1h,t-ortiz\n",
                                    encoding="utf-8")
    roster = write(tmp_path, document([]), "roster.yaml")
    with pytest.raises(ScheduleError) as info:
        load_schedule(tmp_path / "s.csv", roster)
    assert [p.path for p in info.value.problems] == ["line 2, column kind"]


#: Per field: values as most files write them, and values the reader must look at.
_FIELD_VARIANTS: dict[str, tuple[list[object], list[object]]] = {
    "id": (["S-1", "0"], [" S-1", "", 7, True, None, ["S-1"]]),
    "patient": (["P-001"], ["P-001 ", None, 3]),
    "clinician": (["dr-lee"], ["", None, {"id": "dr-lee"}]),
    "kind": (["dosing", "integration", "assessment"],
             ["Dosing", "integation", None, 1, [], {"a": 1}]),
    "start": (["2026-03-04T10:00", "2026-03-04T10:00:00Z", "2026-11-01T01:30",
               "2026-03-04T10:00:00+05:30"],
              ["2026-03-08T02:30", "2026-04-31T10:00", "2026-03-04", "2026-03-04T10:00:00.5",
               " 2026-03-04T10:00 ", None, 20260304]),
    "end": ([None, "2026-03-04T12:00", "2026-03-05T09:59:59Z"],
            ["2026-03-04T10:00", "2026-03-04T09:00", "nonsense", 5]),
    "duration": ([None, "2h", "PT50M", "24h", "1s"], ["0m", "25h", "ten", " 90m", 120]),
    "modality": ([None, "CBT", "x" * 2000], [" CBT ", "", "x" * 2001, 5, ["CBT"]]),
    "route": ([None, "IV", "oral"], ["iv", 2, ["IV"]]),
    "dose_mg": ([None, 25, 0.5], ["25", True, -3, [25]]),
    "room": ([None], ["B2"]),
}


#: The quick path's shared texts and read times, one pair per timezone (as one document
#: keeps them), so that later examples read times earlier ones kept.
_KEPT: dict[str, tuple[dict[str, str], dict[Any, Any]]] = {}


@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_the_loaders_quick_path_builds_what_its_reader_builds(data: st.DataObject) -> None:
    """A session mapping the quick path takes gives, with no problem, exactly the
    session that the field-by-field reader gives; everything else goes to the reader."""
    item = {}
    for key, (usual, unusual) in _FIELD_VARIANTS.items():
        spoiled = data.draw(st.integers(0, 11), label=f"{key} spoiled") == 0
        value = data.draw(st.sampled_from(unusual if spoiled else usual), label=key)
        if value is not None:
            item[key] = value
    tz = ZoneInfo(data.draw(st.sampled_from(["America/New_York", "Europe/Berlin", "UTC"])))
    texts, times = _KEPT.setdefault(tz.key, ({}, {}))  # kept across examples, as in a file
    quick = loader._quick_session(item, tz, texts, times)
    problems = Problems("x.yaml")
    fields = loader._session(loader._Reader(problems), item, "sessions[0]", tz)
    if quick is None:
        return
    assert not problems.items and fields is not None
    slow = Session(**fields)
    assert quick == slow
    assert (quick.start_s, quick.end_s, quick.zone) == (slow.start_s, slow.end_s, slow.zone)
    assert [type(getattr(quick, a.name)) for a in attrs.fields(Session)] == \
        [type(getattr(slow, a.name)) for a in attrs.fields(Session)]


def test_the_quick_path_takes_the_sessions_written_as_most_are() -> None:
    tz = ZoneInfo("America/New_York")
    item = {"id": "S-1", "patient": "P-001", "kind": "dosing", "route": "IV", "dose_mg": 25,
            "start": "2026-03-04T10:00", "duration": "2h", "clinician": "dr-lee"}
    assert loader._quick_session(item, tz, {}, {}) is not None
    assert loader._quick_session({**item, "kind": "integration", "route": None,
                                  "modality": "CBT"}, tz, {}, {}) is not None
