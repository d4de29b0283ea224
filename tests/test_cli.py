"""The command line: exit codes, one JSON document, stdin, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kapcheck.cli import app

from .helpers import compliant_course, document, write

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "riverside.yaml"
runner = CliRunner()


def kapcheck(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kapcheck.cli", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_compliant_schedule_exits_0(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, document(compliant_course()))),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["compliant"] is True and report["findings"] == []
    assert report["summary"] == {"patients": 1, "sessions": 4, "errors": 0, "warnings": 0,
                                 "waived": 0}


def test_errors_exit_1() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE), "--format", "json",
                                 "--as-of", "2026-03-01"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["compliant"] is False


def test_warnings_alone_exit_0_unless_fail_on_warning(tmp_path: Path) -> None:
    course = compliant_course()[1:]  # no assessment: KAP-ASMT-001 is a warning
    path = str(write(tmp_path, document(course)))
    assert runner.invoke(app, ["validate", path]).exit_code == 0
    assert runner.invoke(app, ["validate", path, "--fail-on", "warning"]).exit_code == 1


def test_json_report_has_the_contract_shape() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE), "--format", "json",
                                 "--as-of", "2026-03-01"])
    report = json.loads(result.stdout)
    assert list(report) == ["kapcheck", "protocol", "compliant", "summary", "findings",
                            "skipped", "meta"]
    assert report["kapcheck"] == "1"
    assert report["protocol"] == {"name": "kap", "version": "1.0"}
    for finding in report["findings"]:
        assert list(finding) == ["rule", "severity", "patient", "session", "related", "message",
                                 "suggestion", "waiver", "source"]
        # Where the anchor session was written, for people to look it up.
        if finding["session"] and finding["rule"] != "WAIVER-001":
            assert finding["source"].startswith(f"{EXAMPLE}:")
            assert ": sessions[" in finding["source"]
    waived = [f for f in report["findings"] if f["waiver"]]
    assert [f["rule"] for f in waived] == ["KAP-ASMT-001"]
    assert report["summary"]["waived"] == 1


def test_findings_are_sorted_by_patient_then_anchor_start_then_rule() -> None:
    from kapcheck.protocol import load_protocol, load_schedule
    from kapcheck.rules import validate

    schedule = load_schedule(EXAMPLE)
    report = validate(schedule, load_protocol("kap"))
    keys = [(f.patient, schedule.session_by_id[f.session].start if f.session else None, f.rule)
            for f in report.findings if f.session]
    assert keys == sorted(keys)


def test_json_output_is_byte_identical_across_runs() -> None:
    first = kapcheck("validate", str(EXAMPLE), "--format", "json", "--as-of", "2026-03-01")
    second = kapcheck("validate", str(EXAMPLE), "--format", "json", "--as-of", "2026-03-01")
    assert first.returncode == 1
    assert first.stdout == second.stdout
    json.loads(first.stdout)
    assert first.stderr == ""


def test_standard_input_is_read_with_a_dash(tmp_path: Path) -> None:
    text = write(tmp_path, document(compliant_course())).read_text()
    result = kapcheck("validate", "-", "--format", "json", stdin=text)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["sessions"] == 4


@pytest.mark.parametrize("content,needle", [
    ("", "the file is empty"),
    ("sessions: [\n", "is not valid YAML"),
    ("a: &a [1]\nb: *a\n", "aliases"),
    ("sessions:\n  - {id: S, kindd: x}\n", "bad.yaml:2:20: sessions[0].kindd (session S): unknown key"),
])
def test_bad_input_exits_2_with_the_place_and_no_traceback(tmp_path: Path, content: str,
                                                           needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    result = kapcheck("validate", str(path))
    assert result.returncode == 2
    assert needle in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_missing_file_exits_2() -> None:
    result = kapcheck("validate", "no/such/schedule.yaml")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_bad_arguments_exit_2() -> None:
    assert kapcheck("validate", str(EXAMPLE), "--format", "xml").returncode == 2
    assert kapcheck("validate", str(EXAMPLE), "--as-of", "soon").returncode == 2
    assert kapcheck("validate").returncode == 2


def test_unknown_protocol_exits_2() -> None:
    result = kapcheck("validate", str(EXAMPLE), "--protocol", "nope")
    assert result.returncode == 2 and "nope" in result.stderr


def test_table_groups_findings_by_patient() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE), "--as-of", "2026-03-01"])
    assert result.exit_code == 1
    for patient in ("P-001", "P-002", "P-003", "P-004", "P-005"):
        assert f"Patient {patient}" in result.stdout
    assert "not compliant" in result.stdout


def test_input_files_are_never_written(tmp_path: Path) -> None:
    path = write(tmp_path, document(compliant_course()))
    before = path.read_bytes(), path.stat().st_mtime_ns
    runner.invoke(app, ["validate", str(path), "--format", "json"])
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_junit_has_a_testcase_per_rule_per_patient() -> None:
    import xml.etree.ElementTree as ET

    result = runner.invoke(app, ["validate", str(EXAMPLE), "--format", "junit",
                                 "--as-of", "2026-03-01"])
    suite = ET.fromstring(result.stdout).find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 12 * 5  # kap's rules, for each of the example's patients
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert "KAP-INT-001 P-002" in failed and "KAP-ASMT-001 P-005" not in failed


def test_rules_json_lists_the_catalog() -> None:
    result = runner.invoke(app, ["rules", "--format", "json"])
    doc = json.loads(result.stdout)
    assert doc["protocol"]["name"] == "kap"
    ids = [r["id"] for r in doc["rules"]]
    assert ids == ["KAP-PREP-001", "KAP-INT-001", "KAP-MOD-001", "KAP-DX-001", "KAP-DOSE-001",
                   "KAP-DOSE-002", "KAP-MON-001", "KAP-OVL-001", "KAP-CLIN-001",
                   "KAP-ROLE-001", "KAP-ASMT-001", "KAP-ROOM-001"]
    integration = doc["rules"][1]
    assert integration["parameters"] == {"window_hours": 72}
    assert "72 hours" in integration["requirement"]
    assert integration["severity"] == "error" and integration["enabled"] is True
    assert integration["rationale"] and integration["source"]


def test_explain_prints_the_rule_and_its_scenarios() -> None:
    result = runner.invoke(app, ["explain", "KAP-INT-001"])
    assert result.exit_code == 0
    assert "Integration after every dose" in result.stdout
    assert "window_hours = 72" in result.stdout
    assert "Specified by these scenarios" in result.stdout


def test_explain_unknown_rule_exits_2() -> None:
    assert runner.invoke(app, ["explain", "KAP-NOPE-001"]).exit_code == 2


def test_an_engine_failure_is_never_a_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import durable_rules_engine

    from kapcheck.protocol import load_protocol, load_schedule
    from kapcheck.rules import EngineError, engine, validate

    monkeypatch.setattr(engine, "_engine", engine._Engine())  # a throwaway engine
    monkeypatch.setattr(durable_rules_engine, "assert_facts", lambda handle, facts: (1, 0))
    path = str(write(tmp_path, document(compliant_course())))
    result = runner.invoke(app, ["validate", path, "--format", "json"])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "internal error" in result.output
    with pytest.raises(EngineError, match="failed earlier"):
        validate(load_schedule(path), load_protocol("kap"))


def _proposal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "proposal.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_proposal_that_introduces_an_error_exits_1_and_reports_the_change(tmp_path: Path) -> None:
    booked = str(write(tmp_path, document(compliant_course())))
    proposal = _proposal(tmp_path, "schema: kapcheck/proposal@1\ncancel: [S-2]\n")
    result = runner.invoke(app, ["validate", booked, "--propose", proposal, "-f", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert [f["rule"] for f in doc["change"]["introduced"]] == ["KAP-PREP-001"]
    assert doc["change"]["resolved"] == [] and doc["summary"]["sessions"] == 3
    assert doc["change"]["introduced"][0]["related"] == []


def test_findings_the_booked_schedule_had_do_not_fail_a_proposal(tmp_path: Path) -> None:
    course = [s for s in compliant_course() if s["id"] != "S-4"]  # KAP-INT-001 already
    booked = str(write(tmp_path, document(course)))
    proposal = _proposal(tmp_path, "move:\n  - {id: S-1, start: 2026-03-01T10:00}\n")
    result = runner.invoke(app, ["validate", booked, "--propose", proposal, "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["compliant"] is False and doc["change"] == {"introduced": [], "resolved": []}


def test_an_unusable_proposal_exits_2_listing_every_problem(tmp_path: Path) -> None:
    booked = str(write(tmp_path, document(compliant_course())))
    proposal = _proposal(tmp_path, "add:\n  - {id: S-1, patient: P-001, kind: dosing, "
                                   "start: 2026-03-09T10:00, duration: 2h, clinician: dr-lee}\n"
                                   "move:\n  - {id: S-99, start: 2026-03-09T10:00}\n"
                                   "cancel: [S-98]\nextra: 1\n")
    result = kapcheck("validate", booked, "--propose", proposal)
    assert result.returncode == 2
    for expected in ("add[0].id: session 'S-1' is booked already", "move[0].id",
                     "cancel[0]", "extra: unknown key"):
        assert expected in result.stderr, result.stderr


def test_a_baseline_fails_only_on_introduced_findings(tmp_path: Path) -> None:
    course = [s for s in compliant_course() if s["id"] != "S-4"]
    path = str(write(tmp_path, document(course)))
    first = runner.invoke(app, ["validate", path, "-f", "json"])
    assert first.exit_code == 1
    baseline = tmp_path / "before.json"
    baseline.write_text(first.stdout)
    again = runner.invoke(app, ["validate", path, "--baseline", str(baseline), "-f", "json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["change"] == {"introduced": [], "resolved": []}
    worse = [s for s in course if s["id"] != "S-2"]
    worse_path = str(write(tmp_path, document(worse), "worse.yaml"))
    result = runner.invoke(app, ["validate", worse_path, "--baseline", str(baseline)])
    assert result.exit_code == 1 and "KAP-PREP-001" in result.stdout


def test_a_baseline_that_is_not_a_report_exits_2(tmp_path: Path) -> None:
    path = str(write(tmp_path, document(compliant_course())))
    bad = tmp_path / "bad.json"
    bad.write_text('{"findings": [{"rule": 7}]}')
    result = kapcheck("validate", path, "--baseline", str(bad))
    assert result.returncode == 2 and "findings[0].rule" in result.stderr


def test_rules_table_shows_the_diagnosis_map() -> None:
    result = runner.invoke(app, ["rules"])
    assert result.exit_code == 0
    assert "Diagnosis map" in result.stdout and "F43.1: PE, CPT" in result.stdout


def test_ids_with_markup_and_emoji_codes_are_printed_as_written(tmp_path: Path) -> None:
    doc = document([
        {"id": "[bold red]S2[/]", "patient": "P:x:1", "kind": "dosing", "route": "IV",
         "start": "2026-03-04T10:00", "duration": "2h", "clinician": "dr-lee"}])
    doc["patients"] = [{"id": "P:x:1", "diagnoses": ["F33.2"]}]
    result = runner.invoke(app, ["validate", str(write(tmp_path, doc))],
                           env={"COLUMNS": "200"})
    assert "[bold red]S2[/]" in result.output and "Patient P:x:1" in result.output
    assert "❌" not in result.output


def test_junit_is_well_formed_xml_whatever_an_id_holds(tmp_path: Path) -> None:
    import xml.dom.minidom

    doc = document([
        {"id": "S\u0001\u001f<&>", "patient": "P-001", "kind": "dosing", "route": "IV",
         "start": "2026-03-04T10:00", "duration": "2h", "clinician": "dr-lee"}])
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    result = runner.invoke(app, ["validate", str(path), "--format", "junit"])
    xml.dom.minidom.parseString(result.stdout.encode())
    assert "S\ufffd\ufffd&lt;&amp;&gt;" in result.stdout
