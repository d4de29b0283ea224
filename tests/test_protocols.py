"""Protocols as data: the shipped TOML, clinic overrides, extends chains, their errors,
and protocols side by side in one process."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kapcheck.cli import app
from kapcheck.protocol import (
    ProtocolError,
    Severity,
    load_protocol,
    load_schedule,
    shipped_protocols,
)
from kapcheck.rules import check_protocol, validate

from .helpers import compliant_course, document, write

CLINIC = """\
[protocol]
name = "riverside"
version = "2026.1"
extends = "kap"

[rules.KAP-INT-001]
window_hours = 48

[rules.KAP-ASMT-001]
enabled = false

[rules.KAP-DOSE-002]
severity = "error"
"""


def toml(tmp_path: Path, text: str, name: str = "clinic.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def protocol_problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ProtocolError) as info:
        protocol = load_protocol(toml(tmp_path, text))
        check_protocol(protocol)
    return [f"{p.file}|{p.path}|{p.message}" for p in info.value.problems]


#: The kap protocol as the contract (SPEC §3) states it: ID, template, severity, defaults.
CONTRACT = [
    ("KAP-PREP-001", "before-first", "error", {"min_sessions": 1, "max_days_before": 30}),
    ("KAP-INT-001", "after-each", "error", {"window_hours": 72}),
    ("KAP-MOD-001", "modality-map", "error", {}),
    ("KAP-DX-001", "diagnosis-covered", "error", {}),
    ("KAP-DOSE-001", "spacing", "error", {"min_hours": 48}),
    ("KAP-DOSE-002", "count-in-span", "warning", {"max_sessions": 6, "days": 21}),
    ("KAP-MON-001", "min-duration", "error", {"min_minutes": 120}),
    ("KAP-OVL-001", "patient-overlap", "error", {}),
    ("KAP-CLIN-001", "clinician-overlap", "error", {}),
    ("KAP-ROLE-001", "roles", "error", {"roles": {
        "dosing": ("prescriber", "nurse"), "preparation": ("therapist",),
        "integration": ("therapist",), "psychotherapy": ("therapist",)}}),
    ("KAP-ASMT-001", "before-first", "warning", {"max_days_before": 14}),
    # Round 4 (SPEC §11, issue 28): a twelfth rule, a warning.
    ("KAP-ROOM-001", "room-overlap", "warning", {}),
]


def test_the_shipped_default_is_the_contracts_eleven_rules_as_template_instances() -> None:
    kap = load_protocol("kap")
    assert [r.id for r in kap.rules] == [row[0] for row in CONTRACT]
    for (rule_id, template, severity, defaults), settings in zip(CONTRACT, kap.rules,
                                                                 strict=True):
        assert (settings.template, settings.severity.value, settings.enabled) == \
            (template, severity, True), rule_id
        for key, value in defaults.items():
            got = settings.parameters[key]
            got = {k: tuple(v) for k, v in got.items()} if hasattr(got, "items") else got
            assert got == value, (rule_id, key)
        assert settings.title and settings.rationale and settings.source, rule_id
        assert "shared/" not in settings.source, "users have no shared/ folder"


def test_every_shipped_protocol_loads_and_runs() -> None:
    assert {"kap", "kap-ptsd-pe"} <= set(shipped_protocols())
    for name in shipped_protocols():
        check_protocol(load_protocol(name))


def test_the_ptsd_protocol_is_data_over_the_default() -> None:
    pe = load_protocol("kap-ptsd-pe")
    assert pe.rule("KAP-INT-001").parameters["window_hours"] == 72
    assert pe.rule("KAP-INT-001").parameters["min_hours_after"] == 24
    assert pe.rule("KAP-DOSE-002").severity is Severity.ERROR
    assert pe.rule("KAP-MON-001").parameters["min_minutes"] == 120  # inherited
    assert pe.diagnoses.modalities_for(["F43.10"]) == {"PE"}
    # Its map replaces kap's: depression is not covered.
    assert not pe.diagnoses.covers("F33.2") and not pe.diagnoses.covers("F32.1")
    assert pe.files == ("kap (shipped)", "kap-ptsd-pe (shipped)")


def test_replace_in_a_root_protocol_is_a_protocol_error(tmp_path: Path) -> None:
    found = protocol_problems(tmp_path, '[protocol]\nname = "x"\n[diagnoses]\nreplace = true\n')
    assert any("diagnoses.replace" in p and "extends none" in p for p in found), found


def test_every_rule_of_every_shipped_protocol_has_source_and_evidence() -> None:
    from kapcheck.protocol import shipped_protocols

    for name in shipped_protocols():
        for r in load_protocol(name).rules:
            assert r.source and r.evidence, (name, r.id)
            assert len(r.evidence) <= 300
            assert r.evidence.startswith(("“", "\"", "clinic's reading")) or "“" in r.evidence, (
                name, r.id, r.evidence)


def test_evidence_over_300_characters_is_a_protocol_error(tmp_path: Path) -> None:
    found = protocol_problems(tmp_path, '[protocol]\nname = "x"\nextends = "kap"\n'
                              '[rules.KAP-INT-001]\nevidence = "' + "w" * 301 + '"\n')
    assert any("rules.KAP-INT-001.evidence" in p and "at most 300" in p for p in found), found


def _course_with(tmp_path: Path, integration_start: str, assessment: bool = True,
                 doses: int = 1) -> Path:
    course = compliant_course()
    if not assessment:
        course = [s for s in course if s["kind"] != "assessment"]
    course[-1]["start"] = integration_start
    for k in range(1, doses):
        course.append({"id": f"X-{k}", "patient": "P-001", "kind": "dosing", "route": "IV",
                       "start": f"2026-03-{4 + 2 * k:02d}T10:00", "duration": "2h",
                       "clinician": "dr-lee"})
    return write(tmp_path, document(course))


def _rules(report) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(f.rule, f.severity.value) for f in report.findings}


def test_a_clinic_protocol_changes_verdicts_exactly_as_written(tmp_path: Path) -> None:
    clinic = load_protocol(toml(tmp_path, CLINIC))
    kap = load_protocol("kap")
    # Integration 60 hours after the dose: inside 72 h, outside 48 h.
    schedule = load_schedule(_course_with(tmp_path, "2026-03-07T00:00", assessment=False))
    assert _rules(validate(schedule, kap)) == {("KAP-ASMT-001", "warning")}
    assert _rules(validate(schedule, clinic)) == {("KAP-INT-001", "error")}
    # Seven doses in 21 days: a warning by default, an error for the clinic.
    dense = load_schedule(_course_with(tmp_path, "2026-03-05T10:00", doses=7))
    assert ("KAP-DOSE-002", "warning") in _rules(validate(dense, kap))
    assert ("KAP-DOSE-002", "error") in _rules(validate(dense, clinic))
    assert validate(dense, kap).compliant is not validate(dense, clinic).compliant or \
        not validate(dense, kap).compliant


def test_overrides_keep_their_provenance(tmp_path: Path) -> None:
    path = toml(tmp_path, CLINIC)
    clinic = load_protocol(path)
    integration = clinic.rule("KAP-INT-001")
    assert integration.provenance["window_hours"] == str(path)
    assert integration.provenance["severity"] == "kap (shipped)"
    assert clinic.rule("KAP-ASMT-001").provenance["enabled"] == str(path)


def test_rules_command_shows_where_each_parameter_came_from(tmp_path: Path) -> None:
    path = toml(tmp_path, CLINIC)
    result = CliRunner().invoke(app, ["rules", "--protocol", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["protocol"] == {"name": "riverside", "version": "2026.1"}
    rules = {r["id"]: r for r in doc["rules"]}
    assert rules["KAP-INT-001"]["parameters"] == {"window_hours": 48}
    assert rules["KAP-INT-001"]["provenance"]["window_hours"] == str(path)
    assert rules["KAP-MON-001"]["provenance"]["min_minutes"] == "kap (shipped)"
    assert rules["KAP-ASMT-001"]["enabled"] is False
    table = CliRunner().invoke(app, ["rules", "--protocol", str(path)])
    assert "clinic.toml" in table.stdout and "kap (shipped)" in table.stdout


def test_extends_follows_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "network").mkdir()
    toml(tmp_path / "network", '[protocol]\nname = "network"\nversion = "1"\nextends = "kap"\n'
         "[rules.KAP-MON-001]\nmin_minutes = 150\n", "base.toml")
    child = toml(tmp_path, '[protocol]\nname = "site"\nversion = "2"\n'
                           'extends = "network/base.toml"\n[rules.KAP-INT-001]\nwindow_hours = 36\n')
    protocol = load_protocol(child)
    assert protocol.rule("KAP-MON-001").parameters["min_minutes"] == 150
    assert protocol.rule("KAP-INT-001").parameters["window_hours"] == 36
    assert protocol.name == "site" and protocol.version == "2"


def test_diagnosis_entries_replace_or_add_prefixes(tmp_path: Path) -> None:
    protocol = load_protocol(toml(tmp_path, '[protocol]\nname = "x"\nextends = "kap"\n'
                                            '[diagnoses]\n"F43.1" = ["PE", "CPT", "EMDR"]\n'
                                            '"F10" = ["MBRP", "CBT"]\n'))
    assert protocol.diagnoses.modalities_for(["F43.10"]) == {"PE", "CPT", "EMDR"}
    assert protocol.diagnoses.modalities_for(["F10.20"]) == {"MBRP", "CBT"}
    assert protocol.diagnoses.modalities_for(["F33.2"]) == {"CBT", "PDT"}


@pytest.mark.parametrize("text,where,what", [
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-NOPE-001]\nx = 1\n',
     "rules.KAP-NOPE-001", "unknown rule"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-INT-001]\nwindow = 48\n',
     "rules.KAP-INT-001.window", "unknown parameter"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-INT-001]\nwindow_hours = "48"\n',
     "rules.KAP-INT-001.window_hours", "expected a number"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-INT-001]\nseverity = "fatal"\n',
     "rules.KAP-INT-001.severity", 'expected "error" or "warning"'),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-INT-001]\nenabled = "no"\n',
     "rules.KAP-INT-001.enabled", "expected true or false"),
    ('[protocol]\nname = "x"\nextends = "kap"\ncolour = "red"\n',
     "protocol.colour", "unknown key"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rulez]\n', "rulez", "unknown key"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-INT-001]\nwindow_hours = -1\n',
     "rules.KAP-INT-001.window_hours", "zero or more"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-PREP-001]\nmin_sessions = 1.5\n',
     "rules.KAP-PREP-001.min_sessions", "whole number"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-ROLE-001.roles]\ndosing = ["janitor"]\n',
     "rules.KAP-ROLE-001.roles.dosing", "expected a list of roles"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[diagnoses]\n"depression" = ["CBT"]\n',
     'diagnoses."depression"', "ICD-10-CM code prefix"),
    ('[protocol]\nname = "x"\nextends = "nowhere"\n', "protocol.extends", "neither a shipped protocol"),
    ("[protocol\n", "", "is not valid TOML"),
    ('[protocol]\nname = "x"\nextends = "kap\\u0000.toml"\n', "protocol.extends",
     "control character"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-INT-001]\nmessage = "{session:d}"\n',
     "rules.KAP-INT-001.message", "a placeholder is a bare name"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-INT-001]\n'
     'message = "{session:>300000000}"\n', "rules.KAP-INT-001.message", "no format spec"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-INT-001]\n'
     'requirement = "{window_hours!r} {window_hours.real}"\n', "rules.KAP-INT-001.requirement",
     "a placeholder is a bare name"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.X-SP-001]\ntemplate = "spacing"\n'
     'title = "t"\nkind = "dosing"\nmin_hours = 1e9\nmax_hours = 5\n',
     "rules.X-SP-001.min_hours", "at most 3660 days"),
    ('[protocol]\nname = "x"\nextends = "kap"\n[rules.X-MD-001]\ntemplate = "min-duration"\n'
     'title = "t"\nkind = "dosing"\nmin_minutes = 1\nby_dose_mg = ['
     + ", ".join(f"[{i}, 1]" for i in range(101)) + ']\n',
     "rules.X-MD-001.by_dose_mg", "at most 100 rows"),
])
def test_protocol_errors_name_the_file_and_the_key(tmp_path: Path, text: str, where: str,
                                                   what: str) -> None:
    found = protocol_problems(tmp_path, text)
    assert any(p.split("|")[1] == where and what in p.split("|")[2] for p in found), found
    assert all(p.split("|")[0].endswith("clinic.toml") for p in found), found


def test_a_cycle_of_extends_is_an_error(tmp_path: Path) -> None:
    toml(tmp_path, '[protocol]\nname = "a"\nextends = "b.toml"\n', "a.toml")
    toml(tmp_path, '[protocol]\nname = "b"\nextends = "a.toml"\n', "b.toml")
    with pytest.raises(ProtocolError) as info:
        load_protocol(tmp_path / "a.toml")
    assert "cycle" in str(info.value)


def test_protocol_errors_exit_2_on_the_command_line(tmp_path: Path) -> None:
    path = toml(tmp_path, '[protocol]\nname = "x"\nextends = "kap"\n[rules.KAP-INT-001]\nwindow = 1\n')
    schedule = write(tmp_path, document(compliant_course()))
    result = CliRunner().invoke(app, ["validate", str(schedule), "--protocol", str(path)])
    assert result.exit_code == 2
    assert "rules.KAP-INT-001.window" in result.output


def test_two_protocols_side_by_side_in_threads_give_their_own_verdicts(tmp_path: Path) -> None:
    kap = load_protocol("kap")
    clinic = load_protocol(toml(tmp_path, CLINIC))
    schedule = load_schedule(_course_with(tmp_path, "2026-03-07T00:00", assessment=False))
    expected = {id(kap): _rules(validate(schedule, kap)),
                id(clinic): _rules(validate(schedule, clinic))}
    assert expected[id(kap)] != expected[id(clinic)]
    jobs = [kap, clinic] * 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda p: (id(p), _rules(validate(schedule, p))), jobs))
    assert all(found == expected[key] for key, found in results)


@pytest.mark.parametrize(("rule", "expected"), [
    ('template = "after-each"\ntitle = "t"\nanchor = "dosing"\nkind = "integration"\n'
     "window_hours = 48\nonly_first = true\n", "The patient's first dosing session is followed"),
    ('template = "spacing"\ntitle = "t"\nkind = "dosing"\nmin_hours = 24\nmax_hours = 96\n',
     "at least 24 and at most 96 hours apart"),
    ('template = "count-in-span"\ntitle = "t"\nkind = "dosing"\nmax_sessions = 1\n'
     "span_days = 7\nfrom_day = 28\n", "from day 28 on"),
])
def test_the_stated_requirement_is_the_one_checked(tmp_path: Path, rule: str,
                                                   expected: str) -> None:
    proto = load_protocol(toml(tmp_path, '[protocol]\nname = "x"\nextends = "kap"\n'
                                         "[rules.X-001]\n" + rule))
    assert expected in proto.rule("X-001").requirement_text()
