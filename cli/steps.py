"""kapcheck's step vocabulary: the sentences a feature file may use, and what each does.

This is the one place the steps are defined: ``kapcheck test`` runs a clinic's own
feature files with them, the shipped features run through them in ``make test``, and
``docs/reference/steps.md`` is generated from them (each with an example). A phrasing,
once documented, keeps working.

A scenario builds a schedule document as a clinic would write it (YAML, read by the
real loader), validates it against its protocol (``kap`` unless ``--protocol`` or a step
names another) and checks what was found. A step whose expectation does not hold raises
StepFailed saying what kapcheck found instead.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from attrs import frozen

from kapcheck.protocol import load_protocol, load_schedule
from kapcheck.rules import Checker, Finding, Report, validate

DEFAULT_CLINICIAN = {"dosing": "dr-lee", "assessment": "dr-lee"}
DEFAULT_MODALITY = "CBT"
#: A rule ID as features write it: KAP-INT-001, OR-PSI-DUR-001, WAIVER-001.
RULE = r"(?P<rule>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-\d{3})"
Table = Sequence[Sequence[str]]


class StepFailed(AssertionError):
    """A Then step whose expectation does not hold: the message says what was found."""


@frozen
class StepDef:
    kind: str  # Given, When or Then
    pattern: re.Pattern[str]
    run: Callable[..., None]
    #: One sentence that uses the step, for the reference.
    example: str
    #: The step's meaning, for the reference.
    doc: str


STEPS: list[StepDef] = []


def step(kind: str, pattern: str, example: str) -> Callable[[Callable[..., None]],
                                                           Callable[..., None]]:
    def register(fn: Callable[..., None]) -> Callable[..., None]:
        STEPS.append(StepDef(kind, re.compile(pattern), fn, example,
                             " ".join((fn.__doc__ or "").split())))
        return fn
    return register


class Clinic:
    """The schedule a scenario builds, and what validating it found."""

    def __init__(self, folder: Path, protocol: str = "kap") -> None:
        self.folder = folder
        self.doc: dict[str, Any] = {"schema": "kapcheck/schedule@1", "clinicians": [],
                                    "patients": [], "sessions": [], "waivers": []}
        self.patient: str | None = None
        self.protocol = protocol
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
        if "patients" not in fields:
            fields.setdefault("patient", self.patient)
        kind = fields["kind"]
        if "clinicians" not in fields:
            fields.setdefault("clinician", DEFAULT_CLINICIAN.get(kind) or self.therapist())
        if kind in ("psychotherapy", "integration"):
            fields.setdefault("modality", DEFAULT_MODALITY)
        self.doc["sessions"].append({k: v for k, v in fields.items() if v is not None})

    def schedule_file(self) -> Path:
        path = self.folder / "schedule.yaml"
        doc = dict(self.doc)
        if not doc["waivers"]:
            del doc["waivers"]
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
                        encoding="utf-8")
        return path

    def validate(self) -> Report:
        schedule = load_schedule(self.schedule_file())
        self.report = validate(schedule, load_protocol(self.protocol), as_of=self.as_of)
        return self.report

    def findings(self, rule: str) -> list[Finding]:
        if self.report is None:
            raise StepFailed("no schedule was validated yet: add 'When the schedule is "
                             "validated' before the Then steps")
        return [f for f in self.report.findings if f.rule == rule]

    def found(self) -> str:
        """Every finding, briefly, for a failed expectation's message."""
        if self.report is None or not self.report.findings:
            return "no findings"
        return "; ".join(f"{f.rule} at {f.session or f.patient}" for f in self.report.findings)


# --- Given: the clinic ----------------------------------------------------------------


@step("Given", r"the clinic keeps its calendar in (?P<zone>\S+) time",
      "the clinic keeps its calendar in America/New_York time")
def calendar(clinic: Clinic, table: Table, zone: str) -> None:
    """The schedule's timezone (an IANA name): every time the scenario names is local."""
    clinic.doc["timezone"] = zone


@step("Given", r"the clinic's roster", "the clinic's roster\n  | clinician | roles |\n"
      "  | dr-lee | prescriber |\n  | t-ortiz | therapist |")
def roster(clinic: Clinic, table: Table) -> None:
    """The clinicians and their roles, as a table with the columns clinician and roles
    (roles separated by commas)."""
    header, *rows = table
    for row in rows:
        entry = dict(zip(header, row, strict=True))
        roles = [r.strip() for r in entry["roles"].split(",") if r.strip()]
        clinic.doc["clinicians"].append({"id": entry["clinician"], "roles": roles})


@step("Given", r"a patient (?P<pid>\S+) diagnosed with .*\((?P<codes>[^)]*)\)",
      "a patient P-001 diagnosed with recurrent major depression (F33.2)")
def diagnosed_patient(clinic: Clinic, table: Table, pid: str, codes: str) -> None:
    """A patient with the ICD-10-CM codes in parentheses (several separated by commas);
    the first patient is the one later steps mean when they name none."""
    clinic.doc["patients"].append({"id": pid, "diagnoses": [c.strip() for c in codes.split(",")]})
    clinic.patient = clinic.patient or pid


@step("Given", r"a patient (?P<pid>\S+) with no recorded diagnosis",
      "a patient C-001 with no recorded diagnosis")
def undiagnosed_patient(clinic: Clinic, table: Table, pid: str) -> None:
    """A patient without diagnoses."""
    clinic.doc["patients"].append({"id": pid, "diagnoses": []})
    clinic.patient = clinic.patient or pid


@step("Given", r"patients (?P<prefix>\S*?)(?P<first>\d+) to (?P=prefix)(?P<last>\d+) with no "
               r"recorded diagnosis", "patients C-101 to C-125 with no recorded diagnosis")
def undiagnosed_patients(clinic: Clinic, table: Table, prefix: str, first: str,
                         last: str) -> None:
    """Patients numbered from the first to the last (a group's clients), without
    diagnoses; numbers keep the first's width."""
    low, high = int(first), int(last)
    if high < low or high - low >= 1000:
        raise StepFailed(f"expected at most 1,000 patients counting up, got {first} to {last}")
    for n in range(low, high + 1):
        clinic.doc["patients"].append({"id": f"{prefix}{n:0{len(first)}d}", "diagnoses": []})
        clinic.patient = clinic.patient or f"{prefix}{low:0{len(first)}d}"


@step("Given", r"(?P<pid>\S+)'s (?P<record>[a-z][a-z0-9-]*) record is dated "
               r"(?P<day>\d{4}-\d{2}-\d{2})",
      "P-001's rems-enrollment record is dated 2026-05-20")
def dated_record(clinic: Clinic, table: Table, pid: str, record: str, day: str) -> None:
    """A dated record of a patient already named (REMS enrollment, signed consent)."""
    patient = next((p for p in clinic.doc["patients"] if p["id"] == pid), None)
    if patient is None:
        raise StepFailed(f"no patient {pid} was named before this step")
    patient.setdefault("records", {})[record] = day


#: People as a sentence names them: "P-1", "P-1 and P-2", "P-1, P-2 and P-3".
PEOPLE = r"\S+(?:(?:, | and )\S+)*"
SESSION = (r"an? (?P<group>group )?(?P<kind>preparation|dosing|integration|psychotherapy|assessment) "
           r"session (?P<sid>\S+)(?: for (?P<patient>" + PEOPLE + r"))? on "
           r"(?P<day>\d{4}-\d{2}-\d{2}) "
           r"(?:from (?P<start>\d{2}:\d{2}) to (?P<end>\d{2}:\d{2})"
           r"|at (?P<at>\d{2}:\d{2}) for (?P<minutes>\d+) minutes)"
           r"(?: of (?P<dose>[\d.]+) mg(?: of psilocybin)?)?"
           r"(?: using (?P<modality>\S+))?(?: with (?P<clinician>" + PEOPLE + r"))?"
           r'(?: in room "(?P<room>[^"]+)")?')


def _people(text: str) -> list[str]:
    """"P-1, P-2 and P-3" as ids."""
    return [part for part in re.split(r", | and ", text) if part]


@step("Given", SESSION, "an integration session I1 for P-002 on 2026-03-03 at 09:00 for "
      "50 minutes using PE with t-ortiz")
def session(clinic: Clinic, table: Table, group: str | None, kind: str, sid: str,
            patient: str | None, day: str, start: str | None, end: str | None, at: str | None,
            minutes: str | None, dose: str | None, modality: str | None,
            clinician: str | None, room: str | None) -> None:
    """A session: its kind, id, patient (default: the first patient), day, and either
    "from HH:MM to HH:MM" or "at HH:MM for N minutes"; optionally "of N mg" (its dose),
    "using MODALITY" (default CBT for therapy), "with CLINICIAN" (default: dr-lee for
    dosing and assessment, the roster's first therapist otherwise) and 'in room "NAME"'.
    A group session names its patients ("for C-1, C-2 and C-3"), and any session may
    name co-therapists ("with f-rivera and f-okafor")."""
    fields: dict[str, Any] = {"id": sid, "kind": kind}
    people = _people(patient) if patient else []
    if group and len(people) < 2:
        raise StepFailed(f"a group session names two patients or more: {patient or 'none'}")
    if len(people) > 1:
        fields["patients"] = people
        fields["patient"] = None
    elif people:
        fields["patient"] = people[0]
    if room:
        fields["room"] = room
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
    team = _people(clinician) if clinician else []
    if len(team) > 1:
        fields["clinicians"] = team
        fields["clinician"] = None
    elif team:
        fields["clinician"] = team[0]
    clinic.add_session(**fields)


@step("Given", r"dosing sessions D1 to D(?P<n>\d+) every (?P<days>\d+) days from "
               r"(?P<day>\d{4}-\d{2}-\d{2}) at (?P<time>\d{2}:\d{2})",
      "dosing sessions D1 to D6 every 3 days from 2026-03-02 at 10:00")
def dosing_series(clinic: Clinic, table: Table, n: str, days: str, day: str, time: str) -> None:
    """Two-hour dosing sessions D1, D2, ... at the same local time every few days."""
    first = datetime.fromisoformat(f"{day}T{time}")
    for k in range(int(n)):
        start = first + timedelta(days=k * int(days))  # the same wall-clock time each day
        clinic.add_session(id=f"D{k + 1}", kind="dosing", route="IV",
                           start=start.isoformat(timespec="minutes"), duration="2h")


# --- Given: the protocol ------------------------------------------------------------------


def _setting_value(text: str) -> object:
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@step("Given", r"the clinic's own protocol, which extends (?P<base>\S+) and sets",
      "the clinic's own protocol, which extends kap and sets\n"
      "  | rule | setting | value |\n  | KAP-INT-001 | window_hours | 48 |")
def own_protocol(clinic: Clinic, table: Table, base: str) -> None:
    """A protocol that extends another and changes settings, as a table with the columns
    rule, setting and value (rule "diagnoses" sets a prefix's modalities)."""
    header, *rows = table
    lines = ["[protocol]", 'name = "clinic"', 'version = "test"', f"extends = {_toml(base)}", ""]
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


@step("Given", r"the clinic's own protocol, which extends (?P<base>\S+) and adds the rule "
               r"(?P<rule_id>\S+)",
      "the clinic's own protocol, which extends kap and adds the rule RIV-001\n"
      "  | key | value |\n  | template | after-each |")
def own_rule(clinic: Clinic, table: Table, base: str, rule_id: str) -> None:
    """A protocol that extends another and adds a rule, as a table of key and value."""
    _, *rows = table
    lines = ["[protocol]", 'name = "clinic"', 'version = "test"', f"extends = {_toml(base)}",
             "", f"[rules.{rule_id}]"]
    lines += [f"{key} = {_toml(_setting_value(value))}" for key, value in rows]
    path = clinic.folder / "clinic-protocol.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    clinic.protocol = str(path)


@step("Given", r"the clinic uses the shipped protocol (?P<name>\S+)",
      "the clinic uses the shipped protocol esketamine-rems")
def shipped_protocol(clinic: Clinic, table: Table, name: str) -> None:
    """A shipped protocol instead of the run's (``--protocol``, default kap)."""
    clinic.protocol = name


@step("Given", r'a waiver of (?P<rule>\S+) for (?P<what>session|patient) (?P<target>[^,]+), '
               r'approved by (?P<who>\S+) until (?P<until>\d{4}-\d{2}-\d{2}), '
               r'because "(?P<reason>[^"]+)"',
      'a waiver of KAP-INT-001 for session D1, approved by dr-lee until 2026-04-01, '
      'because "integration held by video"')
def a_waiver(clinic: Clinic, table: Table, rule: str, what: str, target: str, who: str,
             until: str, reason: str) -> None:
    """A documented exception, in the schedule's waivers."""
    clinic.doc["waivers"].append({"rule": rule, what: target, "reason": reason,
                                  "approved_by": who, "expires": until})


# --- Given: a proposal --------------------------------------------------------------------


@step("Given", r"the proposal adds an? (?P<kind>\w+) session (?P<sid>\S+) on "
               r"(?P<day>\d{4}-\d{2}-\d{2}) at (?P<at>\d{2}:\d{2}) for (?P<minutes>\d+) minutes",
      "the proposal adds an integration session I9 on 2026-03-05 at 10:00 for 50 minutes")
def proposal_adds(clinic: Clinic, table: Table, kind: str, sid: str, day: str, at: str,
                  minutes: str) -> None:
    """A session the proposal adds (for the first patient)."""
    fields: dict[str, Any] = {"id": sid, "patient": clinic.patient, "kind": kind,
                              "start": f"{day}T{at}", "duration": f"{minutes}m",
                              "clinician": DEFAULT_CLINICIAN.get(kind) or clinic.therapist()}
    if kind in ("psychotherapy", "integration"):
        fields["modality"] = DEFAULT_MODALITY
    clinic.proposal["add"].append(fields)


@step("Given", r"the proposal moves (?P<sid>\S+) to (?P<day>\d{4}-\d{2}-\d{2}) at "
               r"(?P<at>\d{2}:\d{2})", "the proposal moves D2 to 2026-03-08 at 10:00")
def proposal_moves(clinic: Clinic, table: Table, sid: str, day: str, at: str) -> None:
    """A booked session the proposal moves (its length kept)."""
    clinic.proposal["move"].append({"id": sid, "start": f"{day}T{at}"})


@step("Given", r"the proposal cancels (?P<sid>\S+)", "the proposal cancels D3")
def proposal_cancels(clinic: Clinic, table: Table, sid: str) -> None:
    """A booked session the proposal cancels."""
    clinic.proposal["cancel"].append(sid)


# --- When -------------------------------------------------------------------------------


@step("When", r"the schedule is validated", "the schedule is validated")
def validated(clinic: Clinic, table: Table) -> None:
    """Validate the schedule against the protocol (waivers judged today)."""
    clinic.validate()


@step("When", r"the schedule is validated on (?P<day>\d{4}-\d{2}-\d{2})",
      "the schedule is validated on 2026-04-02")
def validated_on(clinic: Clinic, table: Table, day: str) -> None:
    """Validate, judging waivers on that day."""
    clinic.as_of = date.fromisoformat(day)
    clinic.validate()


@step("When", r"the proposal is checked", "the proposal is checked")
def proposal_checked(clinic: Clinic, table: Table) -> None:
    """Validate the booked schedule, then check the proposal against it."""
    clinic.validate()
    checker = Checker(load_schedule(clinic.schedule_file()), load_protocol(clinic.protocol),
                      as_of=clinic.as_of)
    clinic.change = checker.propose(**clinic.proposal)
    clinic.report = clinic.change.report


# --- Then -------------------------------------------------------------------------------


@step("Then", RULE + r" is (?P<verdict>violated|waived) for (?P<sid>\S+)",
      "KAP-INT-001 is violated for D1")
def violated_for(clinic: Clinic, table: Table, rule: str, verdict: str, sid: str) -> None:
    """The rule has exactly one finding at that session, waived or not as said; later
    steps about "the finding" mean it."""
    found = [f for f in clinic.findings(rule) if f.session == sid]
    if not found:
        raise StepFailed(f"expected {rule} at {sid}; kapcheck found {clinic.found()}")
    if len(found) > 1:
        raise StepFailed(f"{rule} was reported {len(found)} times at {sid}")
    clinic.finding = found[0]
    if clinic.finding.waived is not (verdict == "waived"):
        raise StepFailed(f"{rule} at {sid} is {'waived' if clinic.finding.waived else 'not waived'}")


@step("Then", RULE + r" is violated for (?P<sid>\S+) once for each of its patients",
      "OR-PSI-GRP-001 is violated for G1 once for each of its patients")
def violated_for_each(clinic: Clinic, table: Table, rule: str, sid: str) -> None:
    """A group session's finding is given once for each of its patients, each naming
    that patient; later steps about "the finding" mean the first."""
    written = next((s for s in clinic.doc["sessions"] if s["id"] == sid), None)
    if written is None:
        raise StepFailed(f"no session {sid} was named before this step")
    patients = sorted(written.get("patients") or [written["patient"]])
    found = [f for f in clinic.findings(rule) if f.session == sid]
    if not found:
        raise StepFailed(f"expected {rule} at {sid}; kapcheck found {clinic.found()}")
    named = sorted(f.patient or "" for f in found)
    if named != patients:
        raise StepFailed(f"{rule} at {sid} names {', '.join(named)}; its patients are "
                         f"{', '.join(patients)}")
    clinic.finding = found[0]


@step("Then", RULE + r" is kept for (?P<sid>\S+)", "KAP-INT-001 is kept for D1")
def kept_for(clinic: Clinic, table: Table, rule: str, sid: str) -> None:
    """The rule has no finding at that session."""
    found = [f for f in clinic.findings(rule) if f.session == sid]
    if found:
        raise StepFailed(f"kapcheck found {rule} at {sid}: {found[0].message}")


@step("Then", RULE + r" is kept", "KAP-DOSE-002 is kept")
def kept(clinic: Clinic, table: Table, rule: str) -> None:
    """The rule has no finding anywhere."""
    found = clinic.findings(rule)
    if found:
        raise StepFailed(f"kapcheck found {rule}: " + "; ".join(f.message for f in found[:3]))


@step("Then", r"the schedule is compliant", "the schedule is compliant")
def compliant(clinic: Clinic, table: Table) -> None:
    """No unwaived error."""
    if clinic.report is None or not clinic.report.compliant:
        raise StepFailed(f"the schedule is not compliant: kapcheck found {clinic.found()}")


@step("Then", r"the schedule is not compliant", "the schedule is not compliant")
def not_compliant(clinic: Clinic, table: Table) -> None:
    """At least one unwaived error."""
    if clinic.report is None or clinic.report.compliant:
        raise StepFailed("the schedule is compliant")


@step("Then", r'the clinic is told to "(?P<text>.+)"',
      'the clinic is told to "Book an integration session"')
def told_to(clinic: Clinic, table: Table, text: str) -> None:
    """The finding's suggestion contains these words."""
    if clinic.finding is None:
        raise StepFailed("no finding was named before this step")
    if text not in clinic.finding.suggestion:
        raise StepFailed(f"the suggestion is: {clinic.finding.suggestion}")


@step("Then", r"the finding is (?:a|an) (?P<severity>warning|error)", "the finding is a warning")
def severity(clinic: Clinic, table: Table, severity: str) -> None:
    """The finding's severity."""
    if clinic.finding is None or clinic.finding.severity.value != severity:
        raise StepFailed(f"the finding is {clinic.finding.severity.value if clinic.finding else 'none'}")


@step("Then", r"the finding is about patient (?P<patient>\S+)",
      "the finding is about patient P-002")
def about_patient(clinic: Clinic, table: Table, patient: str) -> None:
    """The finding names that patient."""
    if clinic.finding is None or clinic.finding.patient != patient:
        raise StepFailed(f"the finding is about {clinic.finding.patient if clinic.finding else 'none'}")


@step("Then", RULE + r" is still reported for (?P<sid>\S+)", "KAP-CLIN-001 is still reported for S-2")
def still_reported(clinic: Clinic, table: Table, rule: str, sid: str) -> None:
    """The finding is in the proposed schedule's report and was there before."""
    if not any(f.session == sid for f in clinic.findings(rule)):
        raise StepFailed(f"{rule} is not reported for {sid}; kapcheck found {clinic.found()}")
    if any(f.rule == rule and f.session == sid for f in clinic.change.introduced):
        raise StepFailed(f"{rule} at {sid} is introduced by the proposal")


@step("Then", r"the proposal (?P<what>introduces|resolves) " + RULE + r" for (?P<sid>\S+)",
      "the proposal resolves KAP-INT-001 for D1")
def proposal_changes(clinic: Clinic, table: Table, what: str, rule: str, sid: str) -> None:
    """Exactly this finding of the rule is introduced (resolved) by the proposal."""
    found = clinic.change.introduced if what == "introduces" else clinic.change.resolved
    got = [(f.rule, f.session) for f in found if f.rule == rule]
    if got != [(rule, sid)]:
        raise StepFailed(f"the proposal {what} {got or 'nothing'} of {rule}")


@step("Then", r"the proposal (?P<what>introduces|resolves) nothing",
      "the proposal introduces nothing")
def proposal_nothing(clinic: Clinic, table: Table, what: str) -> None:
    """The proposal introduces (resolves) no finding."""
    found = clinic.change.introduced if what == "introduces" else clinic.change.resolved
    if found:
        raise StepFailed(f"the proposal {what} " + ", ".join(f"{f.rule} at {f.session}"
                                                              for f in found))


def match(kind: str, text: str) -> tuple[StepDef, dict[str, Any]] | None:
    """The step a sentence uses, and its values; None when no step reads it whole."""
    for definition in STEPS:
        if definition.kind == kind and (m := definition.pattern.fullmatch(text)):
            return definition, m.groupdict()
    return None


def closest(text: str) -> str:
    """The defined step nearest to a sentence no step reads (for "did you mean")."""
    import difflib

    examples = {d.example.split("\n", 1)[0]: d for d in STEPS}
    hit = difflib.get_close_matches(text, list(examples), n=1, cutoff=0.0)
    return hit[0] if hit else STEPS[0].example


def new_clinic(protocol: str) -> tuple[Clinic, tempfile.TemporaryDirectory[str]]:
    folder = tempfile.TemporaryDirectory(prefix="kapcheck-test-")
    return Clinic(Path(folder.name), protocol), folder
