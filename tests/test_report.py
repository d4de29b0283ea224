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
    assert result.exit_code == 1, result.output  # the example has errors: exit 1, as validate
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


def test_the_footer_hashes_every_input_the_protocol_chain_included(tmp_path: Path) -> None:
    ex = ROOT / "examples"
    out = tmp_path / "report.html"
    inputs = [ex / "riverside-sessions.csv", ex / "riverside-patients.csv",
              ex / "riverside-clinicians.csv", ex / "riverside-waivers.yaml"]
    result = runner.invoke(app, ["report", str(inputs[0]), "--patients", str(inputs[1]),
                                 "--clinicians", str(inputs[2]), "--waivers", str(inputs[3]),
                                 "--timezone", "America/New_York", "--protocol",
                                 str(ex / "riverside-protocol.toml"), "--html", str(out)])
    assert result.exit_code == 1, result.output  # the example has errors: exit 1, as validate
    page = out.read_text(encoding="utf-8")
    shipped = ROOT / "protocol" / "shipped" / "kap.toml"
    for path in [*inputs, ex / "riverside-protocol.toml", shipped]:
        assert f"SHA-256 {hashlib.sha256(path.read_bytes()).hexdigest()}" in page, path
    # A CSV run is titled by its file; waivers judged on the day of the run, dated.
    assert "<h1>riverside-sessions.csv: protocol check" in page
    assert re.search(r"waivers judged on \d{4}-\d\d-\d\d \(the day of the run\)", page)
    # The protocol's parameters (its own rule too) and the diagnosis map are printed.
    assert "RIV-FOLLOWUP-001<br>" in page and "window_hours = 48" in page
    assert "<td>F43.1</td><td>PE, CPT</td>" in page
    # Sessions are listed under each timeline with where they were written, and the
    # findings-by-rule table links to the patients.
    assert "riverside-sessions.csv: line 10</tr>" in page
    assert '<a href="#patient-P-004">P-004</a>' in page
    assert '<ul class="toc">' in page


def test_a_proposal_marks_its_sessions_and_lists_the_change(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    proposal = ROOT / "examples" / "riverside-proposal.yaml"
    result = runner.invoke(app, ["report", str(EXAMPLE), "--propose", str(proposal),
                                 "--html", str(out), "--as-of", "2026-03-01"])
    assert result.exit_code == 0, result.output  # the proposal introduces no error
    page = out.read_text(encoding="utf-8")
    assert "protocol check of a proposed change" in page
    assert page.count('class="session proposed"') == 3  # S-306 added, S-304/S-305 moved
    assert page.count('<span class="proposed">proposed</span>') == 3
    assert "<h3>Introduced (0)</h3>" in page and "<h3>Resolved (2)</h3>" in page
    assert "2026-03-14 13:00 EDT" in page  # S-304 at its proposed time
    assert f"SHA-256 {hashlib.sha256(proposal.read_bytes()).hexdigest()}" in page


def test_the_report_never_overwrites_an_input(tmp_path: Path) -> None:
    copy = tmp_path / "clinic.yaml"
    copy.write_bytes(EXAMPLE.read_bytes())
    result = runner.invoke(app, ["report", str(copy), "--html", str(copy)])
    assert result.exit_code == 2
    assert copy.read_bytes() == EXAMPLE.read_bytes()


def test_a_thousand_patients_stay_under_sixteen_megabytes(tmp_path: Path) -> None:
    """18,000 sessions, each drawn, labelled and listed with its place: about 12 MB."""
    sys.path.insert(0, str(ROOT / "bench"))
    from generate import network

    path = tmp_path / "network.json"
    path.write_bytes(orjson.dumps(network(18_000, seed=3)))
    schedule = load_schedule(path)
    assert len(schedule.patients) >= 1000
    protocol = load_protocol("kap")
    page = render(validate(schedule, protocol, jobs=2), schedule, protocol, [str(path)])
    assert len(page.encode()) < 16 * 1024 * 1024
    assert page.count("<svg") == len(schedule.patients)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                             "(.ci/run installs it with `make browser`; make test never installs packages)")
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
    assert dom.count('<rect class="session') == 28
    report = validate(load_schedule(EXAMPLE), load_protocol("kap"), as_of=date(2026, 3, 1))
    rows = re.findall(r'<tr id="f\d+">', dom)
    assert len(rows) == len(report.findings)


def _html(tmp_path: Path, out: Path) -> object:
    return runner.invoke(app, ["report", str(EXAMPLE), "--html", str(out),
                               "--as-of", "2026-03-01"])


def test_the_report_never_writes_through_a_link(tmp_path: Path) -> None:
    kept = tmp_path / "kept.txt"
    kept.write_text("precious")
    link = tmp_path / "report.html"
    link.symlink_to(kept)
    result = _html(tmp_path, link)
    assert result.exit_code == 2
    assert "symbolic link" in result.output
    assert link.is_symlink() and kept.read_text() == "precious"


def test_a_dangling_link_creates_nothing(tmp_path: Path) -> None:
    link = tmp_path / "report.html"
    link.symlink_to(tmp_path / "elsewhere.html")
    assert _html(tmp_path, link).exit_code == 2
    assert not (tmp_path / "elsewhere.html").exists() and link.is_symlink()


def test_a_fifo_or_a_device_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    import os
    import stat

    fifo = tmp_path / "report.html"
    os.mkfifo(fifo)
    result = _html(tmp_path, fifo)
    assert result.exit_code == 2 and "FIFO" in result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    before = os.lstat("/dev/null")
    result = _html(tmp_path, Path("/dev/null"))
    assert result.exit_code == 2 and "device" in result.output
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_mode == before.st_mode


def test_an_existing_report_is_replaced_and_keeps_its_mode(tmp_path: Path) -> None:
    import os

    out = tmp_path / "report.html"
    out.write_text("old")
    out.chmod(0o640)
    assert _html(tmp_path, out).exit_code in (0, 1)
    assert "<html" in out.read_text() and (os.stat(out).st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


_MEASURE = """<script>
const problems = [];
let labels = 0;
for (const svg of document.querySelectorAll('svg')) {
  const width = svg.viewBox.baseVal.width;
  const boxes = [...svg.querySelectorAll('text.label')].map(t => {
    const b = t.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height, t.textContent];
  });
  labels += boxes.length;
  for (const b of boxes) if (b[0] < 0 || b[2] > width) problems.push('cut ' + b[4]);
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], c = boxes[j];
    if (a[0] < c[2] && c[0] < a[2] && a[1] < c[3] && c[1] < a[3])
      problems.push('overlap ' + a[4] + ' ' + c[4]);
  }
}
const pre = document.createElement('pre');
pre.id = 'measured';
pre.textContent = JSON.stringify({problems, labels});
document.body.appendChild(pre);
</script>"""


def _measured(tmp_path: Path, page: Path) -> dict:
    """The report's label boxes as Chromium lays them out: cut or overlapping ones."""
    import json

    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"),
                     encoding="utf-8")
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                             "(.ci/run installs it with `make browser`)")
def test_no_timeline_label_is_cut_or_overlaps_another(tmp_path: Path) -> None:
    _, riverside = _report(tmp_path)
    result = _measured(tmp_path, riverside)
    assert result["problems"] == [] and result["labels"] >= 20
    # A dense week: one patient's sessions every few hours, ids of every length.
    import yaml

    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["sessions"] = [s for s in doc["sessions"] if s["patient"] != "P-001"]
    for k in range(40):
        doc["sessions"].append({
            "id": f"P1-{'x' * (k % 9)}{k}", "patient": "P-001",
            "kind": ["psychotherapy", "integration", "preparation", "assessment"][k % 4],
            "modality": "CBT", "start": f"2026-03-{2 + k // 8:02d}T{8 + k % 8 * 1:02d}:00",
            "duration": "50m", "clinician": "t-ortiz" if k % 4 < 3 else "dr-lee"})
    for s in doc["sessions"]:
        if s["kind"] not in ("psychotherapy", "integration"):
            s.pop("modality", None)
    dense = tmp_path / "dense.yaml"
    dense.write_text(yaml.safe_dump(doc))
    out = tmp_path / "dense.html"
    runner.invoke(app, ["report", str(dense), "--html", str(out), "--as-of", "2026-03-01"])
    result = _measured(tmp_path, out)
    assert result["problems"] == []


def test_a_proposed_session_s_label_is_always_drawn(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    proposal = ROOT / "examples" / "riverside-proposal.yaml"
    runner.invoke(app, ["report", str(EXAMPLE), "--propose", str(proposal), "--html", str(out),
                        "--as-of", "2026-03-01"])
    page = out.read_text(encoding="utf-8")
    for sid in ("S-304", "S-305"):
        assert f'font-family="monospace" fill="#404854">{sid}*</text>' in page


def test_a_group_is_drawn_once_on_each_patients_timeline_and_each_room_has_one(
        tmp_path: Path) -> None:
    """examples/groups.yaml: each circle is drawn once on each of its three patients'
    timelines, marked as a group of three; the room view draws one timeline per room,
    the double-booked dose outlined."""
    out = tmp_path / "groups.html"
    runner.invoke(app, ["report", str(ROOT / "examples" / "groups.yaml"), "--html", str(out),
                        "--as-of", "2026-03-01"])
    page = out.read_text(encoding="utf-8")
    patients = re.split(r'<section class="patient"', page)[1:]
    assert len(patients) == 3
    for section in patients:
        section = section.split("</section>")[0]
        assert len(re.findall(r'class="session group[^"]*" data-group-size="3"', section)) == 2
        assert section.count("G-202 (3)") == 1 and "group of 3 (P-201, P-202, P-203)" in section
    rooms = re.findall(r'<section class="room" id="room-\d+"><h3>Room ([^·]+) ·', page)
    assert [r.strip() for r in rooms] == ["Group room", "Room 1", "Room 2"]
    room_1 = page.split("<h3>Room Room 1")[1].split("</section>")[0]
    assert len(re.findall(r'class="session flagged"', room_1)) == 1
    assert '<a href="#rooms">Rooms</a>' in page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                             "(.ci/run installs it with `make browser`)")
def test_no_label_of_the_group_program_is_cut_or_overlaps_another(tmp_path: Path) -> None:
    out = tmp_path / "groups.html"
    runner.invoke(app, ["report", str(ROOT / "examples" / "groups.yaml"), "--html", str(out),
                        "--as-of", "2026-03-01"])
    result = _measured(tmp_path, out)
    # Every block labelled: four on each patient's timeline, five in the rooms.
    assert result["problems"] == [] and result["labels"] == 17
