"""Mutation fuzzing of every input kind through `kapcheck validate` and `kapcheck rules`.

Hypothesis mutates valid documents (the Riverside example as YAML, JSON and CSV with
rosters; a clinic protocol; a waiver file): keys dropped, values swapped for hostile
ones (huge, empty, NaN, nested, out-of-range times, control characters), entries
duplicated, bytes cut or flipped. Every run must end in exit 0, 1 or 2, never a
traceback, a signal or exit 3; an exit-2 message names a file; and for every accepted
JSON schedule the findings equal the reference evaluator's.

The budget is KAPCHECK_FUZZ_EXAMPLES per test (small in `make test`, large in
`make fuzz`).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kapcheck.cli import app
from kapcheck.protocol import ScheduleError, documents, load_protocol, load_schedule, loader

from ..reference import evaluate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("KAPCHECK_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
runner = CliRunner()

# Read as kapcheck reads YAML: every scalar stays text.
BASE: dict[str, Any] = yaml.load((ROOT / "examples" / "riverside.yaml").read_text(),  # noqa: S506
                                 Loader=documents._SafeLoader)
HOSTILE: list[Any] = [
    None, "", " ", "x" * 300, "\x00", "é\u202e", "9999-12-31T23:59", "0001-01-01T00:00+14:00",
    "2026-02-29T10:00", "2026-03-08T02:30", "2026-11-01T01:30", "2026-03-02T10:00:00.5",
    "2026-03-02T10:00Z", "99999999999h", "P999999999D", "0m", "-1h", "PT", "1h30m", "24h",
    "25h", 0, -1, 2**63, 1e308, float("nan"), True, [], {}, [[[]]], {"a": {"b": {}}},
    "dosing", "integration", "KAP-INT-001", "F33.2", "xyz", "dr-lee", "P-001", "S-001",
    "America/New_York", "Mars/Base", "../../etc/passwd",
    # Texts whose FNV-1a hashes collide once a fact id is built of them (issue 24), and
    # markup, emoji codes and controls in ids.
    "7GKKIFZB", "3HXEGIPY", "[bold red]S2[/]", "P:x:1", "S\x01", "\x1b[31mred", "S-001\u0085",
    # Many diagnoses for one patient; resource types and Condition statuses.
    [f"F{30 + i // 10}.{i % 10}" for i in range(50)], "Appointmnet", "appointment",
    "Conditon", {"coding": [{"code": "entered-in-error"}]}, {"coding": [{"code": "refuted"}]},
    {"coding": [{"code": "remission"}]}, {"coding": [{"code": "actve"}]},
]
KEYS = ["id", "patient", "kind", "start", "end", "duration", "clinician", "modality", "route",
        "roles", "diagnoses", "timezone", "schema", "clinic", "waivers", "rule", "session",
        "reason", "approved_by", "expires", "kindd", "resourceType", "verificationStatus",
        "clinicalStatus", "patients", "clinicians", "room", "records", "dose_mg"]
# Groups, co-therapists and rooms (SPEC §11): lists that are empty, repeat a person, hold
# no id or an unknown one; rooms too long or of the wrong type; records misnamed.
HOSTILE += [["P-001", "P-002"], ["P-001", "P-001"], ["P-001", None], ["P-404"],
            ["t-ortiz", "t-nguyen"], ["dr-lee", "dr-lee"], "R" * 65, "Room A", "room a",
            {"Consent": "2026-01-01"}, {"consent": "soon"}, {"consent": "2026-01-01"}]
# Riverside with a group integration circle run by co-therapists in a room, a group
# dose in another, and a room double-booked.
GROUPS: dict[str, Any] = copy.deepcopy(BASE)
GROUPS["sessions"] += [
    {"id": "G-1", "patients": ["P-001", "P-002", "P-003"], "kind": "integration",
     "modality": "CBT", "start": "2026-03-04T17:00", "duration": "90m",
     "clinicians": ["t-ortiz", "t-nguyen"], "room": "Room A"},
    {"id": "G-2", "patients": ["P-004", "P-005"], "kind": "dosing", "route": "IM",
     "start": "2026-03-04T17:30", "duration": "2h", "clinicians": ["dr-lee", "rn-patel"],
     "room": "Room A", "dose_mg": "20"},
    {"id": "G-3", "patient": "P-001", "kind": "assessment", "start": "2026-03-04T18:00",
     "duration": "30m", "clinician": "rn-patel", "room": "Room B"},
]


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """The document with a few random edits, anywhere in its tree."""
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 4))):
        doc = _mutate(draw, doc)
    return doc


def _mutate(draw: st.DrawFn, node: Any, depth: int = 0) -> Any:
    if isinstance(node, dict) and node and draw(st.integers(0, 3)) and depth < 4:
        key = draw(st.sampled_from(sorted(node)))
        node[key] = _mutate(draw, node[key], depth + 1)
        return node
    if isinstance(node, list) and node and draw(st.integers(0, 3)) and depth < 4:
        i = draw(st.integers(0, len(node) - 1))
        node[i] = _mutate(draw, node[i], depth + 1)
        return node
    action = draw(st.sampled_from(["replace", "drop", "add", "duplicate", "empty"]))
    if action == "replace" or not isinstance(node, (dict, list)):
        return copy.deepcopy(draw(st.sampled_from(HOSTILE)))
    if action == "drop" and node:
        if isinstance(node, dict):
            node.pop(draw(st.sampled_from(sorted(node))))
        else:
            node.pop(draw(st.integers(0, len(node) - 1)))
        return node
    if action == "add" and isinstance(node, dict):
        node[draw(st.sampled_from(KEYS))] = copy.deepcopy(draw(st.sampled_from(HOSTILE)))
        return node
    if action == "duplicate" and node and isinstance(node, list):
        node.append(json.loads(json.dumps(node[draw(st.integers(0, len(node) - 1))])))
        return node
    return type(node)()


def _bytes_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """Cut, flip or splice raw bytes (syntax errors, bad UTF-8, BOMs)."""
    action = draw(st.sampled_from(["keep", "keep", "cut", "flip", "bom", "splice"]))
    if action == "cut" and data:
        return data[: draw(st.integers(0, len(data)))]
    if action == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    if action == "bom":
        return b"\xef\xbb\xbf" + data
    if action == "splice" and data:
        i = draw(st.integers(0, len(data)))
        return data[:i] + draw(st.sampled_from([b"\x00", b"\xff\xfe", b"&a", b"*a", b"!!int 0x",
                                                 b"{{", b'"', b"\n  - ", b"\t"])) + data[i:]
    return data


def run_cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash: the test fails with its traceback
    return result.exit_code, result.stdout, result.stderr


def check_outcome(code: int, stderr: str, names: list[str]) -> None:
    assert code in (0, 1, 2), (code, stderr)
    assert "Traceback" not in stderr
    if code == 2:
        assert any(name in stderr for name in names) or "--" in stderr, stderr


def to_yaml(doc: Any) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


def to_json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def to_csv(rows: Any, columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows if isinstance(rows, list) else []:
        row = row if isinstance(row, dict) else {}
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


def _listed(rows: Any) -> Any:
    """Sessions with ``patients``/``clinicians`` always lists, as the CSV's ``;`` cells."""
    out = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict):
            row = dict(row)
            for one in ("patient", "clinician"):
                if one in row and one + "s" not in row:
                    row[one + "s"] = [row.pop(one)]
                if isinstance(row.get(one + "s"), list):
                    row[one + "s"] = ";".join(_cell(v) for v in row[one + "s"])
        out.append(row)
    return out


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else str(value)


@pytest.mark.parametrize("encode", [to_yaml, to_json], ids=["yaml", "json"])
@FUZZ
@given(data=st.data())
def test_mutated_schedules_never_crash(tmp_path: Path, encode: Callable[[Any], bytes],
                                       data: st.DataObject) -> None:
    doc = data.draw(mutated(data.draw(st.sampled_from([BASE, GROUPS]))))
    raw = data.draw(st.builds(lambda d: d, st.just(encode(doc))))
    raw = _bytes_mutation(data.draw, raw)
    path = tmp_path / ("s.json" if encode is to_json else "s.yaml")
    path.write_bytes(raw)
    code, out, err = run_cli("validate", str(path), "--format", "json", "--as-of", "2026-03-01")
    check_outcome(code, err, [str(path)])
    if code in (0, 1) and encode is to_json:
        report = json.loads(out)
        schedule = load_schedule(path)
        expected = evaluate(schedule, load_protocol("kap"))
        got = {(f["rule"], f["severity"], f["patient"], f["session"])
               for f in report["findings"] if f["rule"] != "WAIVER-001"}
        assert got == expected


@FUZZ
@given(data=st.data())
def test_mutated_json_schedules_read_alike_session_by_session(tmp_path: Path,
                                                             data: st.DataObject) -> None:
    """Read session by session (as a large file is) or whole: the same schedule, with the
    same places, or the same problems."""
    raw = _bytes_mutation(data.draw, to_json(data.draw(mutated(
        data.draw(st.sampled_from([BASE, GROUPS]))))))
    path = tmp_path / "s.json"
    path.write_bytes(raw)
    outcomes = []
    for threshold in (0, 1 << 60):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loader, "STREAM_MIN_BYTES", threshold)
            try:
                schedule = load_schedule(path)
                outcomes.append((schedule, [s.source for s in schedule.sessions]))
            except ScheduleError as exc:
                outcomes.append([str(p) for p in exc.problems])
    assert outcomes[0] == outcomes[1]


SESSION_COLUMNS = ["id", "patient", "kind", "start", "end", "duration", "clinician", "modality",
                   "route"]
GROUP_COLUMNS = ["id", "patients", "kind", "start", "end", "duration", "clinicians", "modality",
                 "route", "dose_mg", "room"]


@FUZZ
@given(data=st.data())
def test_mutated_csv_sets_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    groups = data.draw(st.booleans())
    doc = data.draw(mutated(GROUPS if groups else BASE))
    doc = doc if isinstance(doc, dict) else {}
    files = {"s.csv": to_csv(_listed(doc.get("sessions")) if groups else doc.get("sessions"),
                             GROUP_COLUMNS if groups else SESSION_COLUMNS),
             "p.csv": to_csv(doc.get("patients"), ["id", "diagnoses"]),
             "c.csv": to_csv(doc.get("clinicians"), ["id", "roles"])}
    target = data.draw(st.sampled_from(sorted(files)))
    files[target] = _bytes_mutation(data.draw, files[target])
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    code, _, err = run_cli("validate", str(tmp_path / "s.csv"), "--patients",
                           str(tmp_path / "p.csv"), "--clinicians", str(tmp_path / "c.csv"),
                           "--timezone", "America/New_York", "--format", "json")
    check_outcome(code, err, [str(tmp_path)])


PROTOCOL = (ROOT / "protocol" / "shipped" / "kap.toml").read_text()
TOML_VALUES = ["nan", "inf", "-inf", "1e17", "-1", "0", "0.5", "0.00015", "true", '"72"', "[]",
               "[[]]", "{}", '"x"', '["dosing"]', "[[0, 60], [5, 120]]", "[" * 300 + "]" * 300,
               '"' + "y" * 300 + '"', "72", "120.005"]


@FUZZ
@given(data=st.data())
def test_mutated_protocols_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    lines = PROTOCOL.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        if "=" in lines[i] and data.draw(st.booleans()):
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {data.draw(st.sampled_from(TOML_VALUES))}"
        else:
            lines[i] = data.draw(st.sampled_from(["", "[rules.KAP-NEW-001]", 'extends = "kap"',
                                                  'extends = "../x.toml"', "[protocol]",
                                                  "zzz = 1", "[diagnoses]", '"F9" = ["CBT"]',
                                                  "template = \"spacing\"", lines[i] * 2,
                                                  'message = "{session:d}"',
                                                  'requirement = "{window_hours:>300000000}"',
                                                  'suggestion = "{session!r}{0}{session.x}"',
                                                  'extends = "kap\\u0000.toml"',
                                                  "min_hours = 1e9", "max_hours = 5",
                                                  "by_dose_mg = [" + "[1, 1], " * 200 + "]"]))
    raw = _bytes_mutation(data.draw, "\n".join(lines).encode())
    path = tmp_path / "p.toml"
    path.write_bytes(raw)
    code, out, err = run_cli("rules", "--protocol", str(path), "--format", "json")
    check_outcome(code, err, [str(path)])
    if code == 0:
        json.loads(out)  # strict JSON: no NaN or Infinity
        assert "NaN" not in out and "Infinity" not in out
        code, _, err = run_cli("validate", str(ROOT / "examples" / "riverside.yaml"),
                               "--protocol", str(path), "--as-of", "2026-03-01")
        check_outcome(code, err, [str(path)])


WAIVERS = {"waivers": [{"rule": "KAP-INT-001", "session": "S-105", "reason": "video",
                        "approved_by": "dr-lee", "expires": "2026-04-01"},
                       {"rule": "KAP-DX-001", "patient": "P-004", "reason": "reviewed",
                        "approved_by": "dr-lee"}]}


@FUZZ
@given(data=st.data())
def test_mutated_waiver_files_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    raw = _bytes_mutation(data.draw, to_yaml(data.draw(mutated(WAIVERS))))
    path = tmp_path / "w.yaml"
    path.write_bytes(raw)
    code, _, err = run_cli("validate", str(ROOT / "examples" / "riverside.yaml"),
                           "--waivers", str(path), "--as-of", "2026-03-01")
    check_outcome(code, err, [str(path)])


def _riverside_bundle() -> Any:
    from ..test_fhir import to_fhir

    groups = ROOT / "examples" / "groups.yaml"
    return to_fhir(load_schedule(groups if groups.exists() else
                                 ROOT / "examples" / "riverside.yaml"))


FHIR = _riverside_bundle()


@FUZZ
@given(data=st.data())
def test_mutated_fhir_bundles_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    raw = _bytes_mutation(data.draw, to_json(data.draw(mutated(FHIR))))
    path = tmp_path / "bundle.json"
    path.write_bytes(raw)
    code, out, err = run_cli("validate", str(path), "--format", "json",
                             "--timezone", "America/New_York")
    check_outcome(code, err, [str(path)])
    if code in (0, 1):
        expected = evaluate(load_schedule(path, timezone="America/New_York"), load_protocol("kap"))
        got = {(f["rule"], f["severity"], f["patient"], f["session"])
               for f in json.loads(out)["findings"] if f["rule"] != "WAIVER-001"}
        assert got == expected


def _riverside_calendar() -> str:
    from ..test_ical import to_ics

    return to_ics(load_schedule(ROOT / "examples" / "riverside.yaml"))


ICS = _riverside_calendar()
ICS_LINES = ["CATEGORIES:", "CATEGORIES:dosing,dosing", "DTSTART;VALUE=DATE:20260302",
             "DTSTART:99991231T235959Z", "DTEND:19000101T000000Z", "DURATION:P999999D",
             "RRULE:FREQ=SECONDLY", "RRULE:FREQ=DAILY;COUNT=400", "RRULE:FREQ=WEEKLY;UNTIL=2",
             "EXDATE:20260302T100000", "STATUS:CANCELLED", "UID:", "ORGANIZER:",
             "X-KAPCHECK-PATIENT:" + "p" * 300, "ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:@",
             "BEGIN:VEVENT", "END:VEVENT", "BEGIN:VTIMEZONE", "X-WR-TIMEZONE:Mars/Base", "",
             "RECURRENCE-ID:20260309T100000", "DTSTART;TZID=Europe/Londn:20260302T100000",
             "EXDATE;TZID=Europe/Londn:20260309T100000", "RRULE:FREQ=YEARLY",
             "DTSTART;TZID=Central Standard Time:20260302T100000", "UID:" + "u" * 5000,
             "UID:[bold red]x[/]",
             # Groups, co-therapists and rooms.
             "X-KAPCHECK-PATIENT:P-001;P-002", "X-KAPCHECK-PATIENT:P-001;P-001",
             "X-KAPCHECK-PATIENT:;", "X-KAPCHECK-CLINICIAN:t-ortiz;t-nguyen",
             "ATTENDEE;CN=P-002;ROLE=REQ-PARTICIPANT:mailto:p2@example.com",
             "ATTENDEE;CN=t-nguyen:mailto:t-nguyen@clinic.example", "LOCATION:Room A",
             "LOCATION:" + "r" * 80, "LOCATION:", "X-KAPCHECK-ROOM:Room B"]


@FUZZ
@given(data=st.data())
def test_mutated_calendars_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    lines = ICS.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = data.draw(st.sampled_from(ICS_LINES + [lines[i] * 2]))
    raw = _bytes_mutation(data.draw, "\r\n".join(lines).encode())
    roster = tmp_path / "roster.yaml"
    roster.write_bytes(to_yaml({k: BASE[k] for k in ("timezone", "clinicians", "patients")}))
    path = tmp_path / "c.ics"
    path.write_bytes(raw)
    code, _, err = run_cli("validate", str(roster), str(path), "--format", "json",
                           "--until", "2026-06-30")
    check_outcome(code, err, [str(path), str(roster)])


EXPORTS = ROOT / "examples" / "exports"
MAPPING_LINES = ["", "[[session]]", "[[skip]]", "[csv]", "[people]", "summary = '('",
                 "summary = '(?P<patient>\\\\S+)'", "summary = '(?P<x>a)'", "code = ''",
                 "code = \"90837\"", "kind = \"integraton\"", "kind = 3", "all_day = \"yes\"",
                 "field = \"Notes\"", "start_format = \"%d\"", "start_format = \"x\"",
                 "timezone = \"Mars/Base\"", "cancelled = '*'", '"x@y" = "nobody"',
                 '"x@y" = 5', "dose_mg = \"lots\"", "route = \"\"", "schema = \"other@2\"",
                 "summary = '" + "(a+)+" * 100 + "'", "zzz = 1"]


@FUZZ
@given(data=st.data())
def test_mutated_mapping_files_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(["google", "practice-csv", "outlook", "ehr"]))
    folder = EXPORTS / source
    lines = (folder / "mapping.toml").read_text().splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = data.draw(st.sampled_from(MAPPING_LINES + [lines[i] * 2]))
    path = tmp_path / "m.toml"
    path.write_bytes(_bytes_mutation(data.draw, "\n".join(lines).encode()))
    export = {"google": "calendar.ics", "outlook": "calendar.ics", "ehr": "searchset.json",
              "practice-csv": "appointments.csv"}[source]
    code, _, err = run_cli("validate", str(folder / "roster.yaml"), str(folder / export),
                           "--mapping", str(path), "--format", "json")
    check_outcome(code, err, [str(path), str(folder)])


CSV_CELLS = ["", " ", "13/45/2026 9:00 AM", "03/09/2026 25:00 PM", "03/09/2026 2:00 PM",
             "2026-03-09T14:00", "-5", "0", "99999", "1.5", "abc", "Late Cancel", "S0013",
             "90837", "nobody@x", "C-2291", "A-5001", "x" * 400, "\x00", "é\u202e"]


@FUZZ
@given(data=st.data())
def test_mutated_practice_csv_exports_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    folder = EXPORTS / "practice-csv"
    rows = list(csv.reader(io.StringIO((folder / "appointments.csv").read_text())))
    for _ in range(data.draw(st.integers(1, 6))):
        r = data.draw(st.integers(0, len(rows) - 1))
        c = data.draw(st.integers(0, len(rows[r]) - 1))
        rows[r][c] = data.draw(st.sampled_from(CSV_CELLS))
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    path = tmp_path / "a.csv"
    path.write_bytes(_bytes_mutation(data.draw, out.getvalue().encode()))
    code, _, err = run_cli("validate", str(folder / "roster.yaml"), str(path), "--mapping",
                           str(folder / "mapping.toml"), "--format", "json")
    check_outcome(code, err, [str(path), str(folder)])
