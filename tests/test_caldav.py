"""CalDAV against a real server: Radicale, started here on 127.0.0.1 with a temporary
store and one user. The Google example's calendar, put on the server event by event,
read back with ``caldav+http://``, gives the findings of its exported .ics; a wrong
password, a missing calendar and a dead server are one clear problem each (exit 2)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kapcheck.cli import app
from kapcheck.protocol import ScheduleError, load_protocol, load_schedule
from kapcheck.rules import validate

ROOT = Path(__file__).resolve().parent.parent
GOOGLE = ROOT / "examples" / "exports" / "google"
USER, PASSWORD = "clinic", "s3cret-kap"
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("radicale")
    (folder / "users").write_text(f"{USER}:{PASSWORD}\n")
    port = _free_port()
    (folder / "config").write_text(f"""
[server]
hosts = 127.0.0.1:{port}
[auth]
type = htpasswd
htpasswd_filename = {folder / "users"}
htpasswd_encryption = plain
[storage]
filesystem_folder = {folder / "collections"}
[rights]
type = owner_only
[logging]
level = warning
""")
    log = (folder / "log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "radicale", "--config",
                             str(folder / "config")], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("Radicale did not start: " + (folder / "log").read_text())
    _publish(url)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _publish(url: str) -> None:
    """The Google example's events on the server, one calendar object per UID (a series
    with its override), as a CalDAV client stores them."""
    import caldav
    import icalendar

    exported = icalendar.Calendar.from_ical((GOOGLE / "calendar.ics").read_text())
    zones = [c for c in exported.subcomponents if c.name == "VTIMEZONE"]
    by_uid: dict[str, list] = {}
    for event in exported.walk("VEVENT"):
        by_uid.setdefault(str(event["UID"]), []).append(event)
    with caldav.DAVClient(url=f"{url}/{USER}/", username=USER, password=PASSWORD,
                          enable_rfc6764=False, require_tls=False) as client:
        calendar = client.principal().make_calendar(name="kap", cal_id="kap")
        for events in by_uid.values():
            one = icalendar.Calendar()
            one.add("prodid", "-//test//EN")
            one.add("version", "2.0")
            for component in [*zones, *events]:
                one.add_component(component)
            calendar.save_event(one.to_ical().decode())


def _keys(schedule: object) -> list[tuple[object, ...]]:
    report = validate(schedule, load_protocol("kap"))  # type: ignore[arg-type]
    return [(f.rule, f.patient, f.session, f.message) for f in report.findings]


def test_a_calendar_served_gives_the_findings_of_its_export(
        radicale: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAPCHECK_CALDAV_USER", USER)
    monkeypatch.setenv("KAPCHECK_CALDAV_PASSWORD", PASSWORD)
    served = load_schedule([GOOGLE / "roster.yaml", f"caldav+{radicale}/{USER}/kap/"],
                           mapping=GOOGLE / "mapping.toml")
    exported = load_schedule([GOOGLE / "roster.yaml", GOOGLE / "calendar.ics"],
                             mapping=GOOGLE / "mapping.toml")
    assert sorted(s.id for s in served.sessions) == sorted(s.id for s in exported.sessions)
    assert _keys(served) == _keys(exported)
    assert len(served.skipped) == 2


def test_credentials_come_from_a_netrc_file(radicale: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.delenv("KAPCHECK_CALDAV_USER", raising=False)
    monkeypatch.delenv("KAPCHECK_CALDAV_PASSWORD", raising=False)
    monkeypatch.setenv("NETRC", str(netrc))
    schedule = load_schedule([GOOGLE / "roster.yaml", f"caldav+{radicale}/{USER}/kap/"],
                             mapping=GOOGLE / "mapping.toml")
    assert len(schedule.sessions) == 7


@pytest.mark.parametrize(("password", "path", "expected"), [
    ("wrong", f"{USER}/kap/", "the server refused the credentials (401)"),
    (PASSWORD, f"{USER}/nothing-here/", "no calendar collection at that address (404)"),
])
def test_a_refusal_or_a_missing_calendar_is_one_problem(
        radicale: str, monkeypatch: pytest.MonkeyPatch, password: str, path: str,
        expected: str) -> None:
    monkeypatch.setenv("KAPCHECK_CALDAV_USER", USER)
    monkeypatch.setenv("KAPCHECK_CALDAV_PASSWORD", password)
    result = runner.invoke(app, ["validate", str(GOOGLE / "roster.yaml"),
                                 f"caldav+{radicale}/{path}", "--mapping",
                                 str(GOOGLE / "mapping.toml")])
    assert result.exit_code == 2
    assert f"caldav+{radicale}/{path}: {expected}" in result.output
    assert password not in result.output


def test_a_server_that_is_not_there_is_one_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAPCHECK_CALDAV_USER", USER)
    monkeypatch.setenv("KAPCHECK_CALDAV_PASSWORD", PASSWORD)
    with pytest.raises(ScheduleError, match="cannot be read over CalDAV"):
        load_schedule([GOOGLE / "roster.yaml", f"caldav+http://127.0.0.1:{_free_port()}/x/"])


@pytest.mark.parametrize(("url", "expected"), [
    ("caldav+http://calendar.example/x/", "use caldav+https"),
    ("caldav+https://clinic:pw@calendar.example/x/", "credentials do not go in the address"),
    ("caldav+ftp://calendar.example/x/", "expected caldav+https://host/path/"),
])
def test_an_address_kapcheck_will_not_use_is_refused_before_any_request(
        url: str, expected: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(expected)) as err:
        load_schedule([GOOGLE / "roster.yaml", url])
    assert "pw@" not in str(err.value)
