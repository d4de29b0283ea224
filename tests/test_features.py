"""The feature files in features/ run here, through the real loader and validate().

Steps speak the clinic's language; each scenario builds a schedule document, writes it
as YAML and validates it exactly as a compliance officer's file would be.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_bdd import given, parsers, scenarios, then, when

from kapcheck.protocol import load_protocol, load_schedule
from kapcheck.rules import Checker, Finding, Report, validate

FEATURES = Path(__file__).resolve().parent.parent / "features"
scenarios(str(FEATURES))

DEFAULT_CLINICIAN = {"dosing": "dr-lee", "assessment": "dr-lee"}
DEFAULT_MODALITY = "CBT"
#: A rule ID as features write it: KAP-INT-001, OR-PSI-DUR-001, WAIVER-001.
RULE = r"(?P<rule>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-\d{3})"
RULE_ID = RULE


class Clinic:
    """The schedule a scenario builds, and what validating it found."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.doc: dict[str, Any] = {"schema": "kapcheck/schedule@1", "clinicians": [],
                                    "patients": [], "sessions": [], "waivers": []}
        self.patient: str | None = None
        self.protocol: str = "kap"
        self.waiver_file: Path | None = None
        self.as_of: date | None = None
        self.report: Report | None = None
        self.finding: Finding | None = None
        self.proposal: dict[str, list[Any]] = {"add": [], "move": [], "cancel": []}
        self.change: Any = None

    def therapist(self) -> str:
        for c in self.doc["clinicians"]:
            if "therapist" in c["roles"]:
                return str(c["id"])
        return "t-ortiz"

    def add_session(self, **fields: Any) -> None:
        fields.setdefault("patient", self.patient)
        kind = fields["kind"]
        fields.setdefault("clinician", DEFAULT_CLINICIAN.get(kind) or self.therapist())
        if kind in ("psychotherapy", "integration"):
            fields.setdefault("modality", DEFAULT_MODALITY)
        self.doc["sessions"].append({k: v for k, v in fields.items() if v is not None})

    def validate(self) -> Report:
        path = self.folder / "schedule.yaml"
        doc = dict(self.doc)
        if not doc["waivers"]:
            del doc["waivers"]
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        schedule = load_schedule(path, waivers=self.waiver_file)
        self.report = validate(schedule, load_protocol(self.protocol), as_of=self.as_of)
        return self.report

    def findings(self, rule: str) -> list[Finding]:
        assert self.report is not None, "validate the schedule first"
        return [f for f in self.report.findings if f.rule == rule]


@pytest.fixture
def clinic(tmp_path: Path) -> Clinic:
    return Clinic(tmp_path)


# --- Given --------------------------------------------------------------------------


@given(parsers.parse("the clinic keeps its calendar in {zone} time"))
def calendar(clinic: Clinic, zone: str) -> None:
    clinic.doc["timezone"] = zone


@given("the clinic's roster")
def roster(clinic: Clinic, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    for row in rows:
        entry = dict(zip(header, row, strict=True))
        roles = [r.strip() for r in entry["roles"].split(",") if r.strip()]
        clinic.doc["clinicians"].append({"id": entry["clinician"], "roles": roles})


@given(parsers.re(r"a patient (?P<pid>\S+) diagnosed with .*\((?P<codes>[^)]*)\)"))
def diagnosed_patient(clinic: Clinic, pid: str, codes: str) -> None:
    clinic.doc["patients"].append({"id": pid, "diagnoses": [c.strip() for c in codes.split(",")]})
    clinic.patient = clinic.patient or pid


@given(parsers.re(r"(?P<pid>\S+)'s (?P<record>[a-z][a-z0-9-]*) record is dated "
                  r"(?P<day>\d{4}-\d{2}-\d{2})"))
def dated_record(clinic: Clinic, pid: str, record: str, day: str) -> None:
    patient = next(p for p in clinic.doc["patients"] if p["id"] == pid)
    patient.setdefault("records", {})[record] = day


@given(parsers.re(r"a patient (?P<pid>\S+) with no recorded diagnosis"))
def undiagnosed_patient(clinic: Clinic, pid: str) -> None:
    clinic.doc["patients"].append({"id": pid, "diagnoses": []})
    clinic.patient = clinic.patient or pid


SESSION = (r"an? (?P<kind>preparation|dosing|integration|psychotherapy|assessment) session "
           r"(?P<sid>\S+)(?: for (?P<patient>\S+))? on (?P<day>\d{4}-\d{2}-\d{2}) "
           r"(?:from (?P<start>\d{2}:\d{2}) to (?P<end>\d{2}:\d{2})"
           r"|at (?P<at>\d{2}:\d{2}) for (?P<minutes>\d+) minutes)"
           r"(?: of (?P<dose>[\d.]+) mg(?: of psilocybin)?)?"
           r"(?: using (?P<modality>\S+))?(?: with (?P<clinician>\S+))?")


@given(parsers.re(SESSION))
def session(clinic: Clinic, kind: str, sid: str, patient: str | None, day: str,
            start: str | None, end: str | None, at: str | None, minutes: str | None,
            dose: str | None, modality: str | None, clinician: str | None) -> None:
    fields: dict[str, Any] = {"id": sid, "kind": kind}
    if patient:
        fields["patient"] = patient
    if start is not None:
        fields.update(start=f"{day}T{start}", end=f"{day}T{end}")
    else:
        fields.update(start=f"{day}T{at}", duration=f"{minutes}m")
    if kind == "dosing":
        fields["route"] = "IV"
    if dose:
        fields["dose_mg"] = dose
    if modality:
        fields["modality"] = modality
    if clinician:
        fields["clinician"] = clinician
    clinic.add_session(**fields)


@given(parsers.re(r"dosing sessions D1 to D(?P<n>\d+) every (?P<days>\d+) days from "
                  r"(?P<day>\d{4}-\d{2}-\d{2}) at (?P<time>\d{2}:\d{2})"))
def dosing_series(clinic: Clinic, n: str, days: str, day: str, time: str) -> None:
    first = datetime.fromisoformat(f"{day}T{time}")
    for k in range(int(n)):
        start = first + timedelta(days=k * int(days))  # the same wall-clock time each day
        clinic.add_session(id=f"D{k + 1}", kind="dosing", route="IV",
                           start=start.isoformat(timespec="minutes"), duration="2h")


def _setting_value(text: str) -> object:
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace('"', '\\"') + '"'


@given("the clinic's own protocol, which extends kap and sets")
def own_protocol(clinic: Clinic, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    lines = ['[protocol]', 'name = "clinic"', 'version = "test"', 'extends = "kap"', ""]
    for row in rows:
        entry = dict(zip(header, row, strict=True))
        if entry["rule"] == "diagnoses":
            mods = [m.strip() for m in entry["value"].split(",")]
            lines += ["[diagnoses]", f'"{entry["setting"]}" = {_toml(mods)}', ""]
        else:
            lines += [f'[rules.{entry["rule"]}]',
                      f'{entry["setting"]} = {_toml(_setting_value(entry["value"]))}', ""]
    path = clinic.folder / "clinic-protocol.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    clinic.protocol = str(path)


@given(parsers.parse("the clinic's own protocol, which extends kap and adds the rule {rule_id}"))
def own_rule(clinic: Clinic, rule_id: str, datatable: list[list[str]]) -> None:
    _, *rows = datatable
    lines = ['[protocol]', 'name = "clinic"', 'version = "test"', 'extends = "kap"', "",
             f"[rules.{rule_id}]"]
    lines += [f"{key} = {_toml(_setting_value(value))}" for key, value in rows]
    path = clinic.folder / "clinic-protocol.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    clinic.protocol = str(path)


@given(parsers.parse("the clinic uses the shipped protocol {name}"))
def shipped_protocol(clinic: Clinic, name: str) -> None:
    clinic.protocol = name


@given(parsers.re(r'a waiver of (?P<rule>\S+) for (?P<what>session|patient) (?P<target>[^,]+), '
                  r'approved by (?P<who>\S+) until (?P<until>\d{4}-\d{2}-\d{2}), '
                  r'because "(?P<reason>[^"]+)"'))
def a_waiver(clinic: Clinic, rule: str, what: str, target: str, who: str, until: str,
             reason: str) -> None:
    clinic.doc["waivers"].append({"rule": rule, what: target, "reason": reason,
                                  "approved_by": who, "expires": until})


@given(parsers.re(r"the proposal adds an? (?P<kind>\w+) session (?P<sid>\S+) on "
                  r"(?P<day>\d{4}-\d{2}-\d{2}) at (?P<at>\d{2}:\d{2}) for (?P<minutes>\d+) minutes"))
def proposal_adds(clinic: Clinic, kind: str, sid: str, day: str, at: str, minutes: str) -> None:
    fields: dict[str, Any] = {"id": sid, "patient": clinic.patient, "kind": kind,
                              "start": f"{day}T{at}", "duration": f"{minutes}m",
                              "clinician": DEFAULT_CLINICIAN.get(kind) or clinic.therapist()}
    if kind in ("psychotherapy", "integration"):
        fields["modality"] = DEFAULT_MODALITY
    clinic.proposal["add"].append(fields)


@given(parsers.re(r"the proposal moves (?P<sid>\S+) to (?P<day>\d{4}-\d{2}-\d{2}) at "
                  r"(?P<at>\d{2}:\d{2})"))
def proposal_moves(clinic: Clinic, sid: str, day: str, at: str) -> None:
    clinic.proposal["move"].append({"id": sid, "start": f"{day}T{at}"})


@given(parsers.parse("the proposal cancels {sid}"))
def proposal_cancels(clinic: Clinic, sid: str) -> None:
    clinic.proposal["cancel"].append(sid)


# --- When ---------------------------------------------------------------------------


@when("the proposal is checked")
def proposal_checked(clinic: Clinic) -> None:
    clinic.validate()
    path = clinic.folder / "schedule.yaml"
    checker = Checker(load_schedule(path, waivers=clinic.waiver_file),
                      load_protocol(clinic.protocol), as_of=clinic.as_of)
    clinic.change = checker.propose(**clinic.proposal)
    clinic.report = clinic.change.report


@then(parsers.re(RULE_ID + r" is still reported for (?P<sid>\S+)"))
def still_reported(clinic: Clinic, rule: str, sid: str) -> None:
    assert any(f.session == sid for f in clinic.findings(rule))
    assert not any(f.rule == rule and f.session == sid for f in clinic.change.introduced)


@then(parsers.re(r"the proposal (?P<what>introduces|resolves) " + RULE_ID
                 + r" for (?P<sid>\S+)"))
def proposal_changes(clinic: Clinic, what: str, rule: str, sid: str) -> None:
    found = clinic.change.introduced if what == "introduces" else clinic.change.resolved
    assert [(f.rule, f.session) for f in found if f.rule == rule] == [(rule, sid)], found


@then(parsers.re(r"the proposal (?P<what>introduces|resolves) nothing"))
def proposal_nothing(clinic: Clinic, what: str) -> None:
    found = clinic.change.introduced if what == "introduces" else clinic.change.resolved
    assert found == (), found


@when("the schedule is validated")
def validated(clinic: Clinic) -> None:
    clinic.validate()


@when(parsers.parse("the schedule is validated on {day}"))
def validated_on(clinic: Clinic, day: str) -> None:
    clinic.as_of = date.fromisoformat(day)
    clinic.validate()


# --- Then ---------------------------------------------------------------------------



@then(parsers.re(RULE + r" is (?P<verdict>violated|waived) for (?P<sid>\S+)"))
def violated_for(clinic: Clinic, rule: str, verdict: str, sid: str) -> None:
    found = [f for f in clinic.findings(rule) if f.session == sid]
    assert found, f"expected {rule} at {sid}; found {[(f.rule, f.session) for f in clinic.report.findings]}"
    assert len(found) == 1, f"{rule} reported {len(found)} times at {sid}"
    clinic.finding = found[0]
    assert clinic.finding.waived is (verdict == "waived"), clinic.finding


@then(parsers.re(RULE + r" is kept for (?P<sid>\S+)"))
def kept_for(clinic: Clinic, rule: str, sid: str) -> None:
    found = [f for f in clinic.findings(rule) if f.session == sid]
    assert not found, f"unexpected {rule} at {sid}: {found[0].message}"


@then(parsers.re(RULE + r" is kept"))
def kept(clinic: Clinic, rule: str) -> None:
    found = clinic.findings(rule)
    assert not found, f"unexpected {rule}: {[f.message for f in found]}"


@then("the schedule is compliant")
def compliant(clinic: Clinic) -> None:
    assert clinic.report is not None and clinic.report.compliant, [
        f.message for f in clinic.report.findings] if clinic.report else None


@then("the schedule is not compliant")
def not_compliant(clinic: Clinic) -> None:
    assert clinic.report is not None and not clinic.report.compliant


@then(parsers.re(r'the clinic is told to "(?P<text>.+)"'))
def suggestion(clinic: Clinic, text: str) -> None:
    assert clinic.finding is not None
    assert text in clinic.finding.suggestion, clinic.finding.suggestion


@then(parsers.re(r"the finding is (?:a|an) (?P<severity>warning|error)"))
def severity(clinic: Clinic, severity: str) -> None:
    assert clinic.finding is not None and clinic.finding.severity.value == severity


@then(parsers.parse("the finding is about patient {patient}"))
def about_patient(clinic: Clinic, patient: str) -> None:
    assert clinic.finding is not None and clinic.finding.patient == patient


def test_step_pattern_reads_every_session_form() -> None:
    for text in ("a dosing session D1 on 2026-03-02 from 10:00 to 12:00",
                 "an integration session I1 for P-2 on 2026-03-03 at 09:00 for 50 minutes "
                 "using PE with t-ortiz"):
        assert re.fullmatch(SESSION, text)
