"""Waivers: documented exceptions that keep their finding in the report, marked."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kapcheck.cli import app
from kapcheck.protocol import ScheduleError, load_protocol, load_schedule
from kapcheck.rules import validate
from kapcheck.rules.report import today_in

from .helpers import compliant_course, document, write

NO_INTEGRATION = [s for s in compliant_course() if s["kind"] != "integration"]


def waiver(**fields: object) -> dict:
    return {"rule": "KAP-INT-001", "session": "S-3", "reason": "Integration by video on day 2",
            "approved_by": "dr-lee", "expires": "2026-04-01", **fields}


def report_for(tmp_path: Path, waivers: list[dict], as_of: date | None = date(2026, 3, 10),
               sessions: list[dict] | None = None):  # type: ignore[no-untyped-def]
    doc = document(sessions if sessions is not None else NO_INTEGRATION, waivers=waivers)
    return validate(load_schedule(write(tmp_path, doc)), load_protocol("kap"), as_of=as_of)


def test_a_waived_finding_stays_in_the_report_and_leaves_the_totals(tmp_path: Path) -> None:
    report = report_for(tmp_path, [waiver()])
    [finding] = report.findings
    assert finding.rule == "KAP-INT-001" and finding.waiver is not None
    assert finding.waiver.reason == "Integration by video on day 2"
    assert (report.errors, report.warnings, report.waived) == (0, 0, 1)
    assert report.compliant


def test_a_patient_waiver_covers_every_finding_of_its_rule(tmp_path: Path) -> None:
    sessions = NO_INTEGRATION + [
        {"id": "S-9", "patient": "P-001", "kind": "dosing", "route": "IV",
         "start": "2026-03-07T10:00", "duration": "2h", "clinician": "dr-lee"}]
    report = report_for(tmp_path, [waiver(session=None, patient="P-001")], sessions=sessions)
    integration = [f for f in report.findings if f.rule == "KAP-INT-001"]
    assert [f.session for f in integration] == ["S-3", "S-9"]
    assert all(f.waived for f in integration)


@pytest.mark.parametrize("as_of,waived", [(date(2026, 4, 1), True), (date(2026, 4, 2), False),
                                          (date(2026, 3, 1), True)])
def test_a_waiver_holds_through_its_expiry_day(tmp_path: Path, as_of: date, waived: bool) -> None:
    report = report_for(tmp_path, [waiver()], as_of=as_of)
    [finding] = report.findings
    assert finding.waived is waived
    assert report.compliant is waived
    if not waived:
        assert "held through 2026-04-01 and has expired" in finding.suggestion


def test_without_as_of_the_day_is_today_in_the_documents_timezone(tmp_path: Path) -> None:
    today = today_in("America/New_York")
    holds = report_for(tmp_path, [waiver(expires=today.isoformat())], as_of=None)
    assert holds.findings[0].waived
    lapsed = report_for(tmp_path, [waiver(expires=(today - timedelta(days=1)).isoformat())],
                        as_of=None)
    assert not lapsed.findings[0].waived


def test_a_waiver_that_matches_no_finding_is_a_warning(tmp_path: Path) -> None:
    report = report_for(tmp_path, [waiver(rule="KAP-MON-001")], sessions=compliant_course())
    [finding] = report.findings
    assert (finding.rule, finding.severity.value, finding.session, finding.patient) == \
        ("WAIVER-001", "warning", "S-3", "P-001")
    assert "matches no finding" in finding.message
    assert report.compliant and report.warnings == 1


def test_a_waiver_of_an_unknown_rule_says_so(tmp_path: Path) -> None:
    report = report_for(tmp_path, [waiver(rule="KAP-INT-01")], sessions=compliant_course())
    assert "names no rule of the protocol" in report.findings[0].message


def test_a_patient_waiver_that_matches_nothing_is_anchored_at_no_session(tmp_path: Path) -> None:
    report = report_for(tmp_path, [waiver(session=None, patient="P-001")],
                        sessions=compliant_course())
    [finding] = report.findings
    assert (finding.rule, finding.session, finding.patient) == ("WAIVER-001", None, "P-001")


def test_waivers_are_checked_like_everything_else(tmp_path: Path) -> None:
    doc = document(NO_INTEGRATION, waivers=[
        {"rule": "KAP-INT-001", "session": "S-404", "reason": "x", "approved_by": "dr-lee"},
        {"rule": "KAP-INT-001", "reason": "x", "approved_by": "dr-lee"},
        {"rule": "KAP-INT-001", "session": "S-3", "approved_by": "dr-lee", "expires": "soon"},
    ])
    with pytest.raises(ScheduleError) as info:
        load_schedule(write(tmp_path, doc))
    found = {f"{p.path}: {p.message}" for p in info.value.problems}
    assert "waivers[0].session: no session with id 'S-404' in the run" in found
    assert "waivers[1]: name exactly one of session or patient" in found
    assert "waivers[2].reason: is required" in found
    assert any(p.startswith("waivers[2].expires: expected a date") for p in found)


def test_waivers_from_a_side_file_on_the_command_line(tmp_path: Path) -> None:
    schedule = write(tmp_path, document(NO_INTEGRATION))
    side = tmp_path / "waivers.yaml"
    side.write_text("waivers:\n  - rule: KAP-INT-001\n    session: S-3\n    reason: video\n"
                    "    approved_by: dr-lee\n    expires: 2026-04-01\n", encoding="utf-8")
    runner = CliRunner()
    args = ["validate", str(schedule), "--format", "json"]
    assert runner.invoke(app, args).exit_code == 1
    result = runner.invoke(app, args + ["--waivers", str(side), "--as-of", "2026-04-01"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["waived"] == 1 and report["summary"]["errors"] == 0
    assert report["findings"][0]["waiver"] == {
        "rule": "KAP-INT-001", "session": "S-3", "reason": "video", "approved_by": "dr-lee",
        "expires": "2026-04-01"}
    lapsed = runner.invoke(app, args + ["--waivers", str(side), "--as-of", "2026-04-02"])
    assert lapsed.exit_code == 1
    assert json.loads(lapsed.stdout)["findings"][0]["waiver"] is None


def test_waived_findings_are_marked_in_the_table_and_junit(tmp_path: Path) -> None:
    schedule = write(tmp_path, document(NO_INTEGRATION, waivers=[waiver()]))
    runner = CliRunner()
    table = runner.invoke(app, ["validate", str(schedule), "--as-of", "2026-03-10"])
    assert "waived" in table.stdout and "Integration by video" in table.stdout
    junit = runner.invoke(app, ["validate", str(schedule), "--as-of", "2026-03-10",
                                "--format", "junit"])
    assert 'failures="0"' in junit.stdout and "waived S-3" in junit.stdout
