"""Every file in examples/ is what the docs say it is: the Riverside clinic in each input
format gives the same findings, and the protocol and proposal examples do what they say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kapcheck.cli import app
from kapcheck.protocol import load_protocol, load_schedule
from kapcheck.protocol.proposals import load_proposal
from kapcheck.rules import Checker, validate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()
ROSTERS = ["--patients", str(EXAMPLES / "riverside-patients.csv"),
           "--clinicians", str(EXAMPLES / "riverside-clinicians.csv")]
WAIVERS = ["--waivers", str(EXAMPLES / "riverside-waivers.yaml")]
AS_OF = ["--as-of", "2026-03-01", "--format", "json"]

FORMS = {
    "yaml": [str(EXAMPLES / "riverside.yaml")],
    "csv": [str(EXAMPLES / "riverside-sessions.csv"), *ROSTERS, "--timezone",
            "America/New_York", *WAIVERS],
    "ics": [str(EXAMPLES / "riverside.ics"), *ROSTERS, *WAIVERS],
    # FHIR instants carry offsets, not a zone: --timezone shows times as the clinic's.
    "fhir": [str(EXAMPLES / "riverside.fhir.json"), "--timezone", "America/New_York",
             *WAIVERS],
}


def run(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["validate", *args, *AS_OF])
    return result.exit_code, json.loads(result.stdout)


def essence(report: dict) -> list[tuple]:
    return [(f["rule"], f["severity"], f["patient"], f["session"], tuple(f["related"]),
             f["message"], f["suggestion"], f["waiver"]) for f in report["findings"]]


@pytest.mark.parametrize("form", ["csv", "ics", "fhir"])
def test_the_riverside_clinic_gives_the_same_findings_in_every_format(form: str) -> None:
    code, expected = run(*FORMS["yaml"])
    got_code, got = run(*FORMS[form])
    assert (got_code, got["summary"], essence(got)) == (code, expected["summary"],
                                                        essence(expected))
    assert code == 1 and expected["summary"]["waived"] == 1
    # Each finding says where its session was written, in that format's own terms.
    place = {"csv": "riverside-sessions.csv: line ", "ics": "riverside.ics: VEVENT S-",
             "fhir": "riverside.fhir.json: entry["}[form]
    anchored = [f for f in got["findings"] if f["session"]]
    assert anchored and all(place in f["source"] for f in anchored)


def test_the_clinic_protocol_tightens_kap_and_adds_a_rule_of_its_own() -> None:
    protocol = load_protocol(EXAMPLES / "riverside-protocol.toml")
    settings = {s.id: s for s in protocol.rules}
    assert protocol.name == "riverside-kap"
    assert settings["KAP-INT-001"].parameters["window_hours"] == 48
    assert settings["RIV-FOLLOWUP-001"].template == "after-each"
    report = validate(load_schedule(EXAMPLES / "riverside.yaml"), protocol)
    followups = [f for f in report.findings if f.rule == "RIV-FOLLOWUP-001"]
    # P-003's doses (S-302, S-304) have no psychotherapy session in the week after.
    assert {"S-302", "S-304"} <= {f.session for f in followups}
    assert all(f.severity.value == "warning" for f in followups)


def test_the_proposal_resolves_two_findings_and_introduces_none() -> None:
    booked = load_schedule(EXAMPLES / "riverside.yaml")
    proposal = load_proposal(EXAMPLES / "riverside-proposal.yaml", booked)
    change = Checker(booked, load_protocol("kap")).propose(
        add=proposal.add, move=proposal.move, cancel=proposal.cancel)
    assert change.introduced == ()
    assert sorted((f.rule, f.session) for f in change.resolved) == [
        ("KAP-DOSE-001", "S-304"), ("KAP-PREP-001", "S-302")]
    code, _ = run(*FORMS["yaml"], "--propose", str(EXAMPLES / "riverside-proposal.yaml"))
    assert code == 0


def test_the_group_program_keeps_kap_but_for_one_room_booked_twice() -> None:
    """examples/groups.yaml: a preparation circle and an integration circle run by two
    co-therapists count for each of their three patients; the room rule flags the one
    dose booked into a room still in use, and names the rooms free then."""
    report = validate(load_schedule(EXAMPLES / "groups.yaml"), load_protocol("kap"))
    assert [(f.rule, f.patient, f.session, f.related) for f in report.findings] == [
        ("KAP-ROOM-001", "P-202", "S-204", ("S-203",))]
    assert "book it in Group room or Room 2 (free then)" in report.findings[0].suggestion
    assert report.compliant
