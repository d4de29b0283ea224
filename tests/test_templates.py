"""Protocols write their own rules from templates: new rules, overrides of inherited
ones, and every kind of mistake reported at once with its file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from kapcheck.protocol import ProtocolError, load_protocol, load_schedule
from kapcheck.rules import validate

from .helpers import compliant_course, document, write

HEAD = '[protocol]\nname = "clinic"\nversion = "1"\nextends = "kap"\n\n'


def protocol(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "clinic.toml"
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def problems(tmp_path: Path, body: str) -> list[tuple[str, str]]:
    with pytest.raises(ProtocolError) as err:
        load_protocol(protocol(tmp_path, body))
    assert all(p.file.endswith("clinic.toml") for p in err.value.problems), err.value
    return [(p.path, p.message) for p in err.value.problems]


def test_every_mistake_of_a_protocol_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, """
[rules.NEW-001]
template = "after-every"
title = "x"

[rules.NEW-002]
template = "before-first"
title = "Preparation"
anchor = "dosing"
kind = "massage"
colour = "red"

[rules.NEW-003]
template = "min-duration"
title = "Dose table"
kind = "dosing"
min_minutes = 60
by_dose_mg = [[10, 240], [5, 120]]

[rules.NEW-004]
template = "roles"
title = "Roles"
roles = { dosing = ["janitor"] }

[rules.NEW-005]
template = "spacing"
kind = "dosing"
min_hours = 72
max_hours = 24

[rules.KAP-INT-001]
template = "before-first"
window_hours = 48.00001
""")
    paths = [path for path, _ in found]
    for expected in ("rules.NEW-001.template", "rules.NEW-002.kind", "rules.NEW-002.colour",
                     "rules.NEW-002.max_days_before", "rules.NEW-003.by_dose_mg",
                     "rules.NEW-004.roles.dosing", "rules.NEW-005.max_hours",
                     "rules.NEW-005.title", "rules.KAP-INT-001.template"):
        assert expected in paths, (expected, found)
    messages = dict(found)
    assert "unknown template 'after-every'" in messages["rules.NEW-001.template"]
    assert "session kind" in messages["rules.NEW-002.kind"]
    assert "is required by the before-first template" in messages["rules.NEW-002.max_days_before"]
    assert "doses must ascend" in messages["rules.NEW-003.by_dose_mg"]
    assert "cannot change its template" in messages["rules.KAP-INT-001.template"]


def test_a_rule_id_twice_in_one_file_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, '[rules.NEW-001]\ntitle = "a"\n[rules.NEW-001]\ntitle = "b"\n')
    assert any("not valid TOML" in message for _, message in found)


def test_an_unknown_placeholder_in_a_rule_text_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, '[rules.KAP-INT-001]\nmessage = "Dose {session} lacks {whatever}"\n')
    assert found == [("rules.KAP-INT-001.message", found[0][1])]
    assert "unknown placeholder {whatever}" in found[0][1]


def test_a_new_rule_runs_beside_the_inherited_ones(tmp_path: Path) -> None:
    path = protocol(tmp_path, """
[rules.CLINIC-ASMT-002]
template = "before-first"
title = "Two assessments before the first dose"
severity = "warning"
anchor = "dosing"
kind = "assessment"
min_sessions = 2
max_days_before = 30
""")
    clinic = load_protocol(path)
    assert [r.id for r in clinic.rules][-1] == "CLINIC-ASMT-002"
    report = validate(load_schedule(write(tmp_path, document(compliant_course()))), clinic)
    [finding] = report.findings
    assert (finding.rule, finding.severity.value, finding.session) == \
        ("CLINIC-ASMT-002", "warning", "S-3")
    assert "has 1 of the 2 assessment session(s) required in the 30 days before it" in \
        finding.message
    assert report.compliant  # a warning


def test_a_rule_may_word_its_own_findings(tmp_path: Path) -> None:
    path = protocol(tmp_path, """
[rules.KAP-MON-001]
min_minutes = 180
message = "{session} is {length} long; our clinic observes every patient for {min_minutes} minutes."
suggestion = "Keep the chair booked until {latest}."
""")
    report = validate(load_schedule(write(tmp_path, document(compliant_course()))),
                      load_protocol(path))
    [finding] = [f for f in report.findings if f.rule == "KAP-MON-001"]
    assert finding.message == ("S-3 is 2 h long; our clinic observes every patient for "
                               "180 minutes.")
    assert finding.suggestion == "Keep the chair booked until 2026-03-04 13:00 EST."


def test_doses_are_read_from_every_structured_input(tmp_path: Path) -> None:
    course = compliant_course()
    course[2]["dose_mg"] = "0.5"
    schedule = load_schedule(write(tmp_path, document(course)))
    assert schedule.session_by_id["S-3"].dose_mg == 0.5
    csv = tmp_path / "s.csv"
    csv.write_text("id,patient,kind,start,duration,clinician,dose_mg\n"
                   "S-1,P-001,dosing,2026-03-04T10:00,2h,dr-lee,12.5\n")
    roster = write(tmp_path, document([]), "roster.yaml")
    assert load_schedule([roster, csv]).session_by_id["S-1"].dose_mg == 12.5


def test_a_row_that_holds_a_float_fails_the_run(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are the memo's keys, and 1.0 equals 1 as a row but not as a fact: a template
    whose row holds anything but ints and text fails the run, never shares an answer."""
    from kapcheck.rules import EngineError, engine
    from kapcheck.rules.templates import min_duration

    monkeypatch.setattr(engine, "_engine", engine._Engine())  # a throwaway engine
    real = min_duration.batch

    def with_a_float(view: Any, params: Any) -> Any:
        for ids, rows in real(view, params):
            yield ids, tuple((*row[:-1], float(row[-1])) for row in rows)

    monkeypatch.setattr(min_duration, "PARTS", (attrs.evolve(min_duration.PARTS[0],
                                                             rows=with_a_float),))
    schedule = load_schedule(write(tmp_path, document(compliant_course())))
    with pytest.raises(EngineError, match="not only ints and text"):
        validate(schedule, load_protocol("kap"))


def test_a_part_gives_rows_with_their_shapes() -> None:
    from kapcheck.rules.base import Part

    def define(name: str, mark: Any) -> None:
        return None

    def rows(view: Any, params: Any) -> Any:
        return iter(())

    with pytest.raises(ValueError, match="rows need shapes"):
        Part("p", define, rows=rows, shapes={})
    with pytest.raises(ValueError, match="rows need shapes"):
        Part("p", define, rows=rows, shapes={"s": ("start", "type")})
