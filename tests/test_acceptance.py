"""``kapcheck test``: a clinic's own scenarios in kapcheck's step vocabulary, run against a
protocol: exit 0 when all pass, 1 naming the failing step and what was found, 2 for an
undefined step (with the closest defined one) or unusable input, which wins over 1."""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path

from typer.testing import CliRunner

from kapcheck.cli import app
from kapcheck.cli.steps import STEPS

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

CLINIC = """Feature: Riverside's own integration rule
  Riverside wants integration within 48 hours.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)

  @KAP-INT-001
  Scenario: Integration the next day keeps the rule
    Given a dosing session D1 on 2026-03-02 from 10:00 to 12:00
    And an integration session I1 on 2026-03-03 at 09:00 for 50 minutes
    When the schedule is validated
    Then KAP-INT-001 is kept for D1

  @KAP-INT-001
  Scenario Outline: Integration after the window breaks the rule
    Given a dosing session D1 on 2026-03-02 from 10:00 to 12:00
    And an integration session I1 on <day> at 13:00 for 50 minutes
    When the schedule is validated
    Then KAP-INT-001 is violated for D1

    Examples:
      | day        |
      | 2026-03-05 |
      | 2026-03-06 |
"""


def _write(tmp_path: Path, text: str, name: str = "riverside.feature") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _protocol(tmp_path: Path, hours: int) -> Path:
    path = tmp_path / "riverside.toml"
    path.write_text('[protocol]\nname = "riverside"\nversion = "1"\nextends = "kap"\n'
                    f"[rules.KAP-INT-001]\nwindow_hours = {hours}\n")
    return path


def test_the_shipped_features_pass_through_kapcheck_test() -> None:
    result = runner.invoke(app, ["test", str(ROOT / "features")])
    assert result.exit_code == 0, result.stdout[-2000:]
    assert result.stdout.splitlines()[-1].endswith(" passed, 0 failed")


def test_a_clinic_s_scenarios_pass_against_its_protocol(tmp_path: Path) -> None:
    path = _write(tmp_path, CLINIC)
    result = runner.invoke(app, ["test", str(path), "--protocol", str(_protocol(tmp_path, 48))])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "3 passed, 0 failed"


def test_a_failing_scenario_is_exit_1_naming_the_step_and_what_was_found(
        tmp_path: Path) -> None:
    path = _write(tmp_path, CLINIC)
    result = runner.invoke(app, ["test", str(path), "--protocol",
                                 str(_protocol(tmp_path, 120))])
    assert result.exit_code == 1
    assert f"{path}:28: FAILED  Integration after the window breaks the rule (day = 2026-03-05)" \
        in result.stdout
    assert f"{path}:24: Then KAP-INT-001 is violated for D1" in result.stdout
    assert "expected KAP-INT-001 at D1; kapcheck found" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 passed, 2 failed"


def test_an_undefined_step_is_exit_2_with_the_closest_step_and_the_rest_still_run(
        tmp_path: Path) -> None:
    text = CLINIC.replace("When the schedule is validated\n    Then KAP-INT-001 is kept",
                          "When the schedule is checked\n    Then KAP-INT-001 is kept", 1)
    path = _write(tmp_path, text)
    result = runner.invoke(app, ["test", str(path), "--protocol",
                                 str(_protocol(tmp_path, 120))])
    assert result.exit_code == 2  # wins over the failures
    assert "UNDEFINED  Integration the next day keeps the rule" in result.stdout
    assert "the closest: When the schedule is validated" in result.stdout
    assert "FAILED  Integration after the window" in result.stdout


def test_a_file_that_is_not_gherkin_is_exit_2_with_its_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "Feature: x\n  Scenario: y\n    Given a thing\n  Wibble: z\n")
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 2
    assert f"error: {path}:4: expected a step" in result.stdout
    empty = _write(tmp_path, "# nothing\n", "empty.feature")
    assert runner.invoke(app, ["test", str(empty)]).exit_code == 2
    assert runner.invoke(app, ["test", str(tmp_path / "missing")]).exit_code == 2


def test_a_scenario_s_own_protocol_wins_over_the_option(tmp_path: Path) -> None:
    text = CLINIC.replace("  Background:\n", "  Background:\n    Given the clinic uses the "
                                             "shipped protocol kap\n")
    path = _write(tmp_path, text)
    result = runner.invoke(app, ["test", str(path), "--protocol",
                                 str(_protocol(tmp_path, 120))])
    assert result.exit_code == 0, result.stdout


def test_junit_has_one_testcase_per_scenario_and_examples_row(tmp_path: Path) -> None:
    path = _write(tmp_path, CLINIC)
    result = runner.invoke(app, ["test", str(path), "--format", "junit", "--protocol",
                                 str(_protocol(tmp_path, 120))])
    doc = xml.dom.minidom.parseString(result.stdout.encode())
    cases = doc.getElementsByTagName("testcase")
    assert len(cases) == 3
    assert len(doc.getElementsByTagName("failure")) == 2


def test_every_step_has_an_example_that_it_reads() -> None:
    for definition in STEPS:
        first = definition.example.split("\n", 1)[0]
        assert definition.pattern.fullmatch(first), definition.example
        assert definition.doc, definition.example
    page = (ROOT / "docs" / "reference" / "steps.md").read_text()
    for definition in STEPS:
        assert definition.example.split("\n", 1)[0] in page
