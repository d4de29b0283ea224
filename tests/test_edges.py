"""Every edge is safe: hostile input gives exit 2 naming the place, never a traceback,
a signal or exit 1; files that are not inputs are never read or written through; the
library holds the loader's invariants for schedules built by hand."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapcheck.protocol import (
    ProtocolError,
    ScheduleError,
    Session,
    Waiver,
    load_protocol,
    load_schedule,
)
from kapcheck.protocol.checks import check_schedule
from kapcheck.protocol.limits import EARLIEST, ECHO_CHARS, LATEST, MAX_ID_CHARS
from kapcheck.rules import validate

from .helpers import compliant_course, document, write

ROOT = Path(__file__).resolve().parent.parent


def kapcheck(*args: str, cwd: Path = ROOT, stdin: bytes | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "kapcheck.cli", *args], input=stdin,
                            capture_output=True, cwd=cwd, timeout=120,
                            env={**os.environ, **(env or {})})
    return subprocess.CompletedProcess(result.args, result.returncode,
                                       result.stdout.decode("utf-8", "replace"),
                                       result.stderr.decode("utf-8", "replace"))


def dose(start: str = "2026-03-04T10:00", duration: str = "2h", **extra: str) -> dict:
    return {"id": "S-9", "patient": "P-001", "kind": "dosing", "start": start,
            "duration": duration, "clinician": "dr-lee", **extra}


def assert_unusable(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


@pytest.mark.parametrize(("start", "duration", "expected"), [
    ("9999-12-31T23:00", "2h", "outside the years kapcheck reads"),
    ("0001-01-01T00:00+01:00", "2h", "outside the years kapcheck reads"),
    ("9999-12-31T10:00", "2h", "outside the years kapcheck reads"),
    ("0001-01-02T00:00", "2h", "outside the years kapcheck reads"),
    ("2026-03-04T10:00", "99999999999h", "sessions[0].duration"),
    ("2026-03-04T10:00", "P999999999D", "sessions[0].duration"),
    ("2026-03-04T10:00", "25h", "at most 24 hours"),
    ("2026-04-31T11:00", "2h", "April 2026 has 30 days"),
])
def test_times_out_of_range_are_input_errors(tmp_path: Path, start: str, duration: str,
                                             expected: str) -> None:
    path = write(tmp_path, document([dose(start, duration)]))
    assert_unusable(kapcheck("validate", str(path)), expected)


@pytest.mark.parametrize("value", ["!!int 0x", "!!bool maybe", "!!timestamp 2026-02-30",
                                   "!!float abc", "!!int " + "9" * 4301, "!!binary AAAA"])
def test_explicit_yaml_tags_are_refused(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "timezone: UTC\nclinic: " + value + "\n")
    assert_unusable(kapcheck("validate", str(path)), "is not allowed")


def test_a_huge_id_is_refused_before_it_reaches_the_engine(tmp_path: Path) -> None:
    # durable_rules overflows its stack on a string of about 8 MiB: exit 139 before.
    path = tmp_path / "big.json"
    path.write_text(json.dumps(document([{**dose(), "id": "x" * 9_000_000}])))
    result = kapcheck("validate", str(path))
    assert_unusable(result, f"an id is at most {MAX_ID_CHARS} characters")
    assert len(result.stderr) < 2000


def test_echoed_values_are_capped(tmp_path: Path) -> None:
    secret = "John Smith (DOB 1975-01-01) " * 10
    path = write(tmp_path, document([{**dose(), "patient": secret}]))
    result = kapcheck("validate", str(path))
    assert_unusable(result, "no patient with id 'John Smith")
    assert secret not in result.stderr
    line = next(x for x in result.stderr.splitlines() if "no patient" in x)
    assert "…" in line and len(line) < 200 + ECHO_CHARS


def test_json_duplicate_keys_are_refused_like_yaml(tmp_path: Path) -> None:
    text = json.dumps(document([dose()]))
    text = text.replace('"kind": "dosing"', '"kind": "dosing", "kind": "assessment"')
    path = tmp_path / "dup.json"
    path.write_text(text)
    assert_unusable(kapcheck("validate", str(path)), "the key 'kind' appears twice")


def test_a_byte_order_mark_is_accepted_in_json_as_in_yaml_and_csv(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(document(compliant_course())).encode())
    assert kapcheck("validate", str(path)).returncode == 0


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo"])
@pytest.mark.parametrize("option", [None, "--waivers", "--patients", "--clinicians"])
def test_devices_and_pipes_are_refused_without_reading(tmp_path: Path, special: str,
                                                        option: str | None) -> None:
    if special == "fifo":
        special = str(tmp_path / "fifo")
        os.mkfifo(special)  # no writer: opening it blocking would hang forever
    schedule = str(write(tmp_path, document(compliant_course())))
    args = ["validate", special] if option is None else ["validate", schedule, option, special]
    assert_unusable(kapcheck(*args), "is not a regular file")


def test_unexpected_failures_exit_3_in_one_line_never_1(tmp_path: Path) -> None:
    # A broken installation: the engine module cannot be imported.
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "durable_rules_engine.py").write_text("raise ImportError('broken build')\n")
    path = write(tmp_path, document(compliant_course()))
    env = {"PYTHONPATH": f"{stub}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = kapcheck("validate", str(path), env=env)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "internal error" in result.stderr
    debug = kapcheck("validate", str(path), env={**env, "KAPCHECK_DEBUG": "1"})
    assert debug.returncode == 3 and "Traceback" in debug.stderr


# --- protocols -------------------------------------------------------------------------

def protocol_file(tmp_path: Path, text: str, name: str = "clinic.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(("setting", "expected"), [
    ("window_hours = nan", "expected a number of hours"),
    ("window_hours = inf", "expected a number of hours"),
    ("window_hours = 1e17", "expected at most"),
    ("window_hours = true", "expected a number"),
    ('window_hours = "72"', "expected a number"),
    ("window_hours = 0.00015", "whole number of seconds"),
    ("window_hours = -1", "zero or more"),
])
def test_bad_parameters_are_protocol_errors(tmp_path: Path, setting: str, expected: str) -> None:
    path = protocol_file(tmp_path, f'[protocol]\nname = "c"\nextends = "kap"\n'
                                   f"[rules.KAP-INT-001]\n{setting}\n")
    result = kapcheck("rules", "--protocol", str(path), "--format", "json")
    assert_unusable(result, "rules.KAP-INT-001.window_hours", expected)


def test_parameters_are_checked_in_a_root_protocol_and_when_disabled(tmp_path: Path) -> None:
    text = (ROOT / "protocol" / "shipped" / "kap.toml").read_text()
    text = text.replace("min_minutes = 120", "min_minutes = 120.005")
    head, asmt = text.split("[rules.KAP-ASMT-001]")
    asmt = asmt.replace("enabled = true", "enabled = false").replace(
        "max_days_before = 14", "max_days_before = nan")
    text = head + "[rules.KAP-ASMT-001]" + asmt
    path = protocol_file(tmp_path, text.replace('name = "kap"', 'name = "mine"'))
    result = kapcheck("rules", "--protocol", str(path), "--format", "json")
    assert_unusable(result, "min_minutes", "whole number of seconds")
    assert "NaN" not in result.stdout


def test_extends_stays_inside_the_protocol_folder_and_echoes_no_other_file(tmp_path: Path) -> None:
    protocol_file(tmp_path, '[protocol]\napi_token = "SECRET-VALUE-456"\n', "other/secret.toml")
    inside = protocol_file(tmp_path, '[protocol]\nname = "c"\nextends = "../other/secret.toml"\n',
                           "clinic/c.toml")
    absolute = protocol_file(tmp_path, f'[protocol]\nname = "c"\nextends = '
                                       f'"{tmp_path / "other" / "secret.toml"}"\n', "clinic/d.toml")
    for path in (inside, absolute):
        result = kapcheck("rules", "--protocol", str(path))
        assert_unusable(result, "protocol.extends")
        assert "SECRET" not in result.stderr and "api_token" not in result.stderr


def test_a_diagnosis_prefix_must_be_able_to_match_a_code(tmp_path: Path) -> None:
    path = protocol_file(tmp_path, '[protocol]\nname = "c"\nextends = "kap"\n'
                                   '[diagnoses]\n"xyz" = ["CBT"]\n')
    assert_unusable(kapcheck("rules", "--protocol", str(path)), 'diagnoses."xyz"')


def test_a_protocol_nested_thousands_deep_is_an_input_error(tmp_path: Path) -> None:
    path = protocol_file(tmp_path, '[protocol]\nname = "c"\nextends = "kap"\n'
                                   "[rules.KAP-INT-001]\nwindow_hours = " + "[" * 2000
                                   + "]" * 2000 + "\n")
    assert_unusable(kapcheck("rules", "--protocol", str(path)))


def test_load_protocol_names_the_reference_not_a_command_line_option() -> None:
    with pytest.raises(ProtocolError) as err:
        load_protocol("nosuch")
    assert "--protocol" not in str(err.value) and "nosuch" in str(err.value)


# --- the report writes only its own file -----------------------------------------------

@pytest.mark.parametrize("which", ["protocol", "base", "waivers"])
def test_report_refuses_to_write_over_any_input(tmp_path: Path, which: str) -> None:
    schedule = write(tmp_path, document(compliant_course()))
    base = protocol_file(tmp_path, '[protocol]\nname = "b"\nextends = "kap"\n', "base.toml")
    proto = protocol_file(tmp_path, '[protocol]\nname = "c"\nextends = "base.toml"\n')
    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers: []\n")
    target = {"protocol": proto, "base": base, "waivers": waivers}[which]
    before = target.read_bytes()
    result = kapcheck("report", str(schedule), "--protocol", str(proto), "--waivers",
                      str(waivers), "--html", str(target))
    assert_unusable(result, "is one of the input files")
    assert target.read_bytes() == before


def test_report_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    schedule = write(tmp_path, document(compliant_course()))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / ".out.html.kapcheck-tmp").symlink_to(victim)
    result = kapcheck("report", str(schedule), "--html", str(tmp_path / "out.html"))
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "keep me"
    assert "<html" in (tmp_path / "out.html").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".kapcheck-tmp")
                and not p.is_symlink()]


# --- the library holds the loader's invariants -----------------------------------------

@pytest.fixture
def loaded(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_schedule(write(tmp_path, document(compliant_course())))


def test_a_hand_built_session_of_an_unknown_patient_is_an_input_error(loaded) -> None:  # type: ignore[no-untyped-def]
    first = loaded.sessions[2]
    short = attrs.evolve(first, id="S-new", patient="nobody", end=first.start + timedelta(minutes=30))
    schedule = attrs.evolve(loaded, sessions=loaded.sessions + (short,))
    with pytest.raises(ScheduleError) as err:
        validate(schedule, load_protocol("kap"))
    assert "sessions[4].patient: no patient with id 'nobody'" in str(err.value)


def test_every_problem_of_a_hand_built_schedule_is_listed(loaded) -> None:  # type: ignore[no-untyped-def]
    s = loaded.sessions[3]
    schedule = attrs.evolve(loaded, sessions=loaded.sessions + (
        attrs.evolve(s, clinician="dr-nobody"),                      # duplicate id, unknown clinician
        attrs.evolve(s, id="S-x", modality=None),                    # integration without modality
        attrs.evolve(s, id="y" * (MAX_ID_CHARS + 1)),               # id too long
    ))
    with pytest.raises(ScheduleError) as err:
        validate(schedule, load_protocol("kap"))
    text = str(err.value)
    for expected in ("sessions[4].id: duplicate session id 'S-4'",
                     "sessions[4].clinician: no clinician with id 'dr-nobody'",
                     "sessions[5].modality: is required for integration sessions",
                     "sessions[6].id: an id is at most"):
        assert expected in text


@pytest.mark.parametrize(("field", "value"), [("id", "   "), ("patient", " "),
                                            ("clinician", "\t"), ("modality", "  ")])
def test_a_hand_built_session_with_blank_text_is_an_input_error(field: str, value: str,
                                                                loaded) -> None:  # type: ignore[no-untyped-def]
    """An id or a modality of spaces alone, which no document may give, is refused when
    a session is built by hand too (it once passed the check's quick test)."""
    s = loaded.sessions[3]
    schedule = attrs.evolve(loaded, sessions=(*loaded.sessions[:3], attrs.evolve(s, **{field: value})))
    with pytest.raises(ScheduleError) as err:
        validate(schedule, load_protocol("kap"))
    assert f"sessions[3].{field}: expected" in str(err.value)


_E, _L, _DAY = EARLIEST, LATEST, timedelta(hours=24)
_HALF, _SECOND = timedelta(milliseconds=500), timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(("start", "end", "sound"), [
    (_E, _E + _SECOND, True), (_E - _HALF, _E + _SECOND, False),
    (_E + _HALF, _E + _SECOND, True), (_E - _SECOND, _E, False),
    (_L - _SECOND, _L - _HALF, True), (_L - _SECOND, _L, False),
    (_L - _HALF, _L + _HALF, False), (_L - 2 * _SECOND, _L - _SECOND, True),
    (_EPOCH - _HALF, _EPOCH - _HALF + _DAY, True),
    (_EPOCH - _HALF, _EPOCH + _HALF + _DAY, False),
    (_EPOCH - 0.9 * _SECOND, _EPOCH + 0.9 * _SECOND + _DAY - 2 * _SECOND, True),
    (_EPOCH - 0.4 * _SECOND, _EPOCH + 0.7 * _SECOND + _DAY - _SECOND, False),
    (_EPOCH + _HALF, _EPOCH + _HALF + _DAY, True), (_EPOCH + _HALF, _EPOCH + _DAY + _SECOND, False),
    (_EPOCH + 0.1 * _SECOND, _EPOCH + 0.2 * _SECOND + _DAY, False),
    (_EPOCH + 0.9 * _SECOND, _EPOCH + 0.5 * _SECOND + _DAY, True),
], ids=lambda v: v.isoformat(timespec="milliseconds") if isinstance(v, datetime) else str(v))
def test_a_hand_built_sessions_times_are_held_to_the_second(start: datetime, end: datetime,
                                                            sound: bool, loaded) -> None:  # type: ignore[no-untyped-def]
    """The check's quick test reads whole seconds; around every bound (the years kapcheck
    reads, the 24-hour session, before and after 1970, where truncation turns) a
    session is refused exactly when its instants break one, to the millisecond."""
    s = attrs.evolve(loaded.sessions[3], start=start, end=end)
    problems = check_schedule(attrs.evolve(loaded, sessions=(*loaded.sessions[:3], s)))
    assert bool(problems) != sound, problems


def test_hand_built_sessions_take_kinds_as_text_and_refuse_unknown_ones(loaded) -> None:  # type: ignore[no-untyped-def]
    s = loaded.sessions[2]
    text_kind = Session(id="S-t", patient="P-001", kind="dosing", start=s.start + timedelta(days=3),
                        end=s.start + timedelta(days=3, minutes=30), clinician="dr-lee")
    report = validate(attrs.evolve(loaded, sessions=loaded.sessions + (text_kind,)),
                      load_protocol("kap"))
    assert any(f.rule == "KAP-MON-001" and f.session == "S-t" for f in report.findings)
    with pytest.raises(ValueError):
        Session(id="S-u", patient="P-001", kind="dozing", start=s.start, end=s.end,
                clinician="dr-lee")


#: A compliant course, loaded once (hypothesis examples share it: nothing changes it).
_LOADED = load_schedule("-", stdin=io.BytesIO(json.dumps(document(compliant_course())).encode()))
_ODD = ["", " ", ["S-1"], {"id": 1}, 7, 2.5, True, None, "x" * 5000, float("nan")]
_ODD_FIELDS = {
    "session": ("id", "patient", "clinician", "modality", "dose_mg", "zone", "source"),
    "patient": ("id", "diagnoses"),
    "clinician": ("id",),
    "waiver": ("rule", "reason", "approved_by", "session", "patient", "expires", "zone"),
}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_hand_built_schedule_with_any_odd_field_is_an_input_error_or_a_report(
        data: st.DataObject) -> None:
    """Whatever a library user puts in a field of a model class (a list, a mapping, a
    number, nothing, a huge text), ``validate`` gives a report or a ScheduleError listing
    the problem: never a TypeError from deep inside the check."""
    schedule = _LOADED
    what = data.draw(st.sampled_from(sorted(_ODD_FIELDS)), label="class")
    name = data.draw(st.sampled_from(_ODD_FIELDS[what]), label="field")
    value = data.draw(st.sampled_from(_ODD), label="value")
    try:
        if what == "session":
            changed = attrs.evolve(schedule.sessions[2], **{name: value})
            schedule = attrs.evolve(schedule, sessions=(*schedule.sessions, changed))
        elif what == "patient":
            changed = attrs.evolve(schedule.patients[0], **{name: value})
            schedule = attrs.evolve(schedule, patients=(*schedule.patients, changed))
        elif what == "clinician":
            changed = attrs.evolve(schedule.clinicians[0], **{name: value})
            schedule = attrs.evolve(schedule, clinicians=(*schedule.clinicians, changed))
        else:
            waiver = Waiver(rule="KAP-INT-001", reason="by video", approved_by="dr-lee",
                            session="S-3")
            schedule = attrs.evolve(schedule, waivers=(attrs.evolve(waiver, **{name: value}),))
    except (TypeError, ValueError):
        return  # refused where it was built (a converter), before any check
    try:
        validate(schedule, load_protocol("kap"), as_of=date(2026, 3, 1))
    except ScheduleError as exc:
        assert exc.problems
