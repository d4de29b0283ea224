"""Answers people use (SPEC §14): SARIF valid against the OASIS 2.1.0 schema, CSV and
XLSX that read back as the JSON findings, --output written safely, every JSON report's
meta tied to its inputs, a baseline of another clinic refused, report --fail-on."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kapcheck.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "riverside.yaml"
WAIVERS = ROOT / "examples" / "riverside-waivers.yaml"
SCHEMA = ROOT / "tests" / "data" / "sarif" / "sarif-schema-2.1.0.json"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str, bytes]:
    result = runner.invoke(app, ["validate", str(EXAMPLE), "--as-of", "2026-03-01",
                                 "--waivers", str(WAIVERS), *args])
    return result.exit_code, result.stdout, result.stdout_bytes


def _json_findings() -> list[dict]:
    return json.loads(_run("--format", "json")[1])["findings"]


def test_sarif_validates_against_the_oasis_schema_with_one_result_per_finding() -> None:
    import jsonschema

    code, out, _ = _run("--format", "sarif")
    assert code == 1
    log = json.loads(out)
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    results = log["runs"][0]["results"]
    findings = _json_findings()
    assert [r["ruleId"] for r in results] == [f["rule"] for f in findings]
    levels = {("note" if f["waiver"] else f["severity"]) for f in findings}
    assert {r["level"] for r in results} == levels
    waived = [r for r in results if r["level"] == "note"]
    assert waived and all(r["suppressions"][0]["status"] == "accepted" for r in waived)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {r["ruleId"] for r in results if r["ruleId"] != "WAIVER-001"}
    assert all(r["helpUri"].endswith(f"#{r['id'].lower()}") for r in rules)


def test_a_sarif_result_is_located_at_its_file_and_line() -> None:
    log = json.loads(_run("--format", "sarif")[1])
    located = [r for r in log["runs"][0]["results"] if "locations" in r]
    assert located
    for r in located:
        place = r["locations"][0]["physicalLocation"]
        uri = place["artifactLocation"]["uri"]
        assert uri.endswith(("examples/riverside.yaml", "examples/riverside-waivers.yaml"))
        session = r["properties"]["session"]
        if uri.endswith("examples/riverside.yaml"):
            line = place["region"]["startLine"]
            assert f"id: {session}" in EXAMPLE.read_text().splitlines()[line - 1]


def test_csv_reads_back_as_the_json_findings() -> None:
    _, out, _ = _run("--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    findings = _json_findings()
    assert [(r["rule"], r["severity"], r["patient"], r["session"], r["message"],
             r["suggestion"], r["waived"], r["source"]) for r in rows] == [
        (f["rule"], f["severity"], f["patient"] or "", f["session"] or "", f["message"],
         f["suggestion"], "yes" if f["waiver"] else "no", f["source"] or "") for f in findings]
    assert all(r["start"].endswith(("EST", "EDT")) for r in rows if r["session"])


def test_xlsx_holds_the_findings_and_a_summary_per_rule(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "findings.xlsx"
    code, _, _ = _run("--format", "xlsx", "--output", str(out))
    assert code == 1
    book = load_workbook(out)
    rows = list(book["Findings"].iter_rows(values_only=True))
    findings = _json_findings()
    assert rows[0][:4] == ("rule", "severity", "patient", "session")
    assert [(r[0], r[3] or None, r[5]) for r in rows[1:]] == [
        (f["rule"], f["session"], f["message"]) for f in findings]
    summary = {r[0]: r for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    for rule in {f["rule"] for f in findings}:
        assert summary[rule][4] == sum(1 for f in findings if f["rule"] == rule)


def test_a_cell_that_starts_like_a_formula_is_written_as_text(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(EXAMPLE.read_text().replace("P-001", "'=HYPERLINK(1)'"))
    result = runner.invoke(app, ["validate", str(path), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and any(r["patient"] == "'=HYPERLINK(1)" for r in rows)
    assert not any(r["patient"].startswith("=") for r in rows)


@pytest.mark.parametrize("fmt", ["json", "junit", "sarif", "csv", "table"])
def test_output_writes_the_same_answer_to_a_file(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    code, stdout, _ = _run("--format", fmt, "--output", str(out))
    assert code == 1 and stdout == ""
    if fmt == "table":
        assert "not compliant" in out.read_text()
    else:
        assert out.read_text() == _run("--format", fmt)[1]


def test_output_never_writes_through_a_link(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.write_text("precious")
    (tmp_path / "out.json").symlink_to(kept)
    code, _, _ = _run("--format", "json", "--output", str(tmp_path / "out.json"))
    assert code == 2 and kept.read_text() == "precious"


def test_every_json_report_carries_meta_tied_to_its_inputs() -> None:
    meta = json.loads(_run("--format", "json")[1])["meta"]
    assert meta["clinic"] == "Riverside Clinic" and meta["as_of"] == "2026-03-01"
    assert meta["protocol"]["name"] == "kap"
    digests = {i["name"]: i["sha256"] for i in meta["inputs"]}
    for path in (EXAMPLE, WAIVERS):
        assert digests[str(path)] == hashlib.sha256(path.read_bytes()).hexdigest()
    shipped = (ROOT / "protocol" / "shipped" / "kap.toml").read_bytes()
    assert digests["kap (shipped)"] == hashlib.sha256(shipped).hexdigest()
    assert meta["protocol"]["fingerprint"] == hashlib.sha256(
        f"{len(shipped)}\n".encode() + shipped).hexdigest()


def test_the_fingerprint_covers_the_whole_extends_chain(tmp_path: Path) -> None:
    clinic = tmp_path / "clinic.toml"
    clinic.write_text('[protocol]\nname = "riverside"\nversion = "1"\nextends = "kap"\n')
    first = json.loads(_run("--format", "json", "--protocol", str(clinic))[1])["meta"]
    clinic.write_text(clinic.read_text() + "[rules.KAP-INT-001]\nwindow_hours = 48\n")
    second = json.loads(_run("--format", "json", "--protocol", str(clinic))[1])["meta"]
    assert first["protocol"]["fingerprint"] != second["protocol"]["fingerprint"]


def test_a_baseline_of_another_clinic_is_refused_unless_asked(tmp_path: Path) -> None:
    report = json.loads(_run("--format", "json")[1])
    report["meta"]["clinic"] = "Lakeside Clinic"
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(report))
    code, _, _ = _run("--baseline", str(baseline))
    result = runner.invoke(app, ["validate", str(EXAMPLE), "--baseline", str(baseline)])
    assert code == 2 and "is a report of clinic 'Lakeside Clinic'; this run's clinic is " \
        "'Riverside Clinic'" in result.output
    assert _run("--baseline", str(baseline), "--baseline-any")[0] == 0


def test_a_baseline_of_another_protocol_is_refused(tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    baseline.write_text(_run("--format", "json", "--protocol", "kap-ptsd-pe")[1])
    result = runner.invoke(app, ["validate", str(EXAMPLE), "--baseline", str(baseline)])
    assert result.exit_code == 2 and "is a report of protocol 'kap-ptsd-pe'" in result.output


def test_report_fails_on_findings_as_validate_does(tmp_path: Path) -> None:
    args = ["report", str(EXAMPLE), "--html", str(tmp_path / "r.html"), "--as-of",
            "2026-03-01"]
    assert runner.invoke(app, args).exit_code == 1
    compliant = ROOT / "examples" / "exports" / "google" / "twin.yaml"
    del compliant  # (the riverside example has errors; a warning-only run exits 0)
    assert runner.invoke(app, [*args, "--fail-on", "warning"]).exit_code == 1


@pytest.mark.parametrize("columns", [80, 120, 200])
def test_the_table_keeps_every_id_whole_and_fits_the_width(columns: int) -> None:
    folder = ROOT / "examples" / "exports" / "outlook"
    result = runner.invoke(app, ["validate", str(folder / "roster.yaml"),
                                 str(folder / "calendar.ics"), "--mapping",
                                 str(folder / "mapping.toml"), "--as-of", "2026-03-01"],
                           env={"COLUMNS": str(columns)})
    lines = result.stdout.splitlines()
    assert all(len(line) <= columns for line in lines)
    joined = "".join(line.strip() for line in lines)
    for f in json.loads(runner.invoke(app, [
            "validate", str(folder / "roster.yaml"), str(folder / "calendar.ics"),
            "--mapping", str(folder / "mapping.toml"), "--format", "json"]).stdout)["findings"]:
        assert f["session"] in joined  # folded across lines, never cut
    assert "1 patient," in result.stdout


def test_a_narrow_table_stacks_each_finding() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE), "--as-of", "2026-03-01"],
                           env={"COLUMNS": "80"})
    assert "Fix: " in result.stdout and "┃ Rule" not in result.stdout
    wide = runner.invoke(app, ["validate", str(EXAMPLE), "--as-of", "2026-03-01"],
                         env={"COLUMNS": "200"})
    assert "┃ Rule" in wide.stdout
    assert max(len(line) for line in wide.stdout.splitlines()) > 120


def test_a_proposal_shows_each_move_and_what_each_new_finding_comes_from(
        tmp_path: Path) -> None:
    proposal = tmp_path / "p.yaml"
    proposal.write_text("move:\n  - {id: S-109, start: 2026-03-17T15:30}\n")
    result = runner.invoke(app, ["validate", str(EXAMPLE), "--propose", str(proposal),
                                 "--as-of", "2026-03-01"], env={"COLUMNS": "200"})
    assert "Moved S-109: 2026-03-17 15:00 EDT → 2026-03-17 15:30 EDT" in result.stdout
    assert "Already there before the change, and still:" in result.stdout


def test_a_session_built_in_code_with_a_bad_kind_is_a_schedule_error() -> None:
    from datetime import datetime, timezone

    from kapcheck.protocol import ScheduleError, Session

    with pytest.raises(ScheduleError, match="kind: expected one of preparation"):
        Session(id="x", patient="p", kind="dozing", clinician="c",
                start=datetime(2026, 3, 2, tzinfo=timezone.utc),
                end=datetime(2026, 3, 2, 1, tzinfo=timezone.utc))
