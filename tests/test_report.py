"""The HTML audit report: self-contained, every finding present, a timeline per patient,
tied to its input by SHA-256; and it never overwrites an input."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from kapcheck.cli import app
from kapcheck.cli.html import render
from kapcheck.protocol import load_protocol, load_schedule
from kapcheck.rules import validate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "riverside.yaml"
runner = CliRunner()


def _report(tmp_path: Path) -> tuple[str, Path]:
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(EXAMPLE), "--html", str(out),
                                 "--as-of", "2026-03-01"])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8"), out


def test_every_finding_and_a_timeline_per_patient(tmp_path: Path) -> None:
    page, _ = _report(tmp_path)
    report = validate(load_schedule(EXAMPLE), load_protocol("kap"), as_of=date(2026, 3, 1))
    for finding in report.findings:
        assert finding.message.replace("'", "&#x27;") in page
        assert finding.suggestion.replace("'", "&#x27;") in page
    assert page.count("<svg") == 5
    assert page.count('class="window"') > 5  # integration windows after doses, and more
    assert 'class="session flagged"' in page
    assert "Waived: Baseline PHQ-9" in page


def test_the_report_is_self_contained(tmp_path: Path) -> None:
    page, _ = _report(tmp_path)
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "@import" not in page and "url(" not in page


def test_the_footer_ties_the_report_to_its_input(tmp_path: Path) -> None:
    page, _ = _report(tmp_path)
    digest = hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert f"SHA-256 {digest}" in page
    assert re.search(r"kapcheck \S+ · generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)


def test_the_report_never_overwrites_an_input(tmp_path: Path) -> None:
    copy = tmp_path / "clinic.yaml"
    copy.write_bytes(EXAMPLE.read_bytes())
    result = runner.invoke(app, ["report", str(copy), "--html", str(copy)])
    assert result.exit_code == 2
    assert copy.read_bytes() == EXAMPLE.read_bytes()


def test_a_thousand_patients_stay_under_ten_megabytes(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from generate import network

    path = tmp_path / "network.json"
    path.write_bytes(orjson.dumps(network(18_000, seed=3)))
    schedule = load_schedule(path)
    assert len(schedule.patients) >= 1000
    protocol = load_protocol("kap")
    page = render(validate(schedule, protocol, jobs=2), schedule, protocol, [str(path)])
    assert len(page.encode()) < 10 * 1024 * 1024
    assert page.count("<svg") == len(schedule.patients)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                             "(make test installs it where apt-get can)")
def test_a_browser_renders_the_timelines_and_every_finding(tmp_path: Path) -> None:
    _, out = _report(tmp_path)
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         out.as_uri()], capture_output=True, text=True, timeout=120)
    dom = done.stdout
    assert dom.count("<svg") == 5, done.stderr[-2000:]
    assert dom.count('class="session') == 28
    report = validate(load_schedule(EXAMPLE), load_protocol("kap"), as_of=date(2026, 3, 1))
    rows = re.findall(r'<tr id="f\d+">', dom)
    assert len(rows) == len(report.findings)
