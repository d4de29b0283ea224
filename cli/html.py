"""The audit report: one self-contained HTML file (inline CSS and SVG, no scripts,
no fonts, no network) with a summary, each patient's course as a timeline, and the
findings with their suggestions. It prints legibly."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from html import escape
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from kapcheck.protocol import Kind, Protocol, Schedule, Session
from kapcheck.protocol.times import local_text
from kapcheck.rules import WAIVER_RULE, Finding, Report
from kapcheck.rules.report import count

KIND_ORDER = [Kind.ASSESSMENT, Kind.PREPARATION, Kind.DOSING, Kind.INTEGRATION,
              Kind.PSYCHOTHERAPY]
COLOURS = {Kind.ASSESSMENT: "#7a6fb0", Kind.PREPARATION: "#3c8dbc", Kind.DOSING: "#d9822b",
           Kind.INTEGRATION: "#2e9e6b", Kind.PSYCHOTHERAPY: "#5c7080"}
WIDTH, LANE, LEFT = 900, 22, 110

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c2127;margin:2em auto;max-width:1000px;padding:0 1em}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.25em;margin:1.6em 0 .4em;border-bottom:2px solid #d3d8de;padding-bottom:.2em}
.meta{color:#5f6b7c}.verdict{display:inline-block;padding:.2em .7em;border-radius:4px;font-weight:600;color:#fff}
.ok{background:#238551}.bad{background:#cd4246}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #d3d8de;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f6f7f9}td:first-child{white-space:nowrap}.error{color:#cd4246;font-weight:600}.warning{color:#c87619;font-weight:600}.waived{color:#5f6b7c}
.patient{page-break-inside:avoid;break-inside:avoid}svg{display:block;margin:.4em 0}
.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
footer{margin-top:2em;color:#5f6b7c;font-size:.85em;border-top:1px solid #d3d8de;padding-top:.5em;word-break:break-all}
a{color:inherit}@media print{body{margin:0;max-width:none}a{text-decoration:none}}
"""


def _kapcheck_version() -> str:
    try:
        return version("kapcheck")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "unknown"


def sha256_of(paths: Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for path in paths:
        if path in ("-", "<stdin>"):
            out.append((path, "(standard input)"))
            continue
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        out.append((path, digest))
    return out


def _x(t: datetime, start: datetime, span: float) -> float:
    return LEFT + (t - start).total_seconds() / span * (WIDTH - LEFT - 10)


def timeline(sessions: Sequence[Session], findings: Sequence[Finding], protocol: Protocol,
             anchors: dict[str, str]) -> str:
    """An SVG of one patient's course: lanes by kind, rule windows behind, findings red."""
    def param(rule: str, name: str) -> float | None:
        try:
            settings = protocol.rule(rule)
        except KeyError:
            return None
        return settings.parameters.get(name) if settings.enabled else None

    doses = [s for s in sessions if s.kind is Kind.DOSING]
    windows: list[tuple[Kind, datetime, datetime, str]] = []
    hours = param("KAP-INT-001", "window_hours")
    if hours is not None:
        for d in doses:
            windows.append((Kind.INTEGRATION, d.end, d.end + timedelta(hours=hours),
                            f"integration window after {d.id}"))
    if doses:
        first = doses[0]
        for rule, kind in (("KAP-PREP-001", Kind.PREPARATION), ("KAP-ASMT-001", Kind.ASSESSMENT)):
            days = param(rule, "max_days_before")
            if days is not None:
                windows.append((kind, first.start - timedelta(days=days), first.start,
                                f"{kind.value} window before first dose {first.id}"))
    times = [s.start for s in sessions] + [s.end for s in sessions] + \
        [w[1] for w in windows] + [w[2] for w in windows]
    start = min(times) - timedelta(hours=12)
    end = max(times) + timedelta(hours=12)
    span = (end - start).total_seconds()
    height = LANE * len(KIND_ORDER) + 26
    flagged = {f.session for f in findings if f.session and not f.waived}
    parts = [f'<svg role="img" aria-label="timeline" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">']
    for lane, kind in enumerate(KIND_ORDER):
        y = lane * LANE
        parts.append(f'<text x="4" y="{y + 15}" font-size="11" fill="#404854">{kind.value}</text>'
                     f'<line x1="{LEFT}" y1="{y + LANE}" x2="{WIDTH - 10}" y2="{y + LANE}" '
                     f'stroke="#edeff2"/>')
    for kind, w_start, w_end, title in windows:
        y = KIND_ORDER.index(kind) * LANE
        x1, x2 = _x(w_start, start, span), _x(w_end, start, span)
        parts.append(f'<rect class="window" x="{x1:.1f}" y="{y + 2}" width="{max(x2 - x1, 1):.1f}" '
                     f'height="{LANE - 4}" fill="{COLOURS[kind]}" fill-opacity="0.13" '
                     f'stroke="{COLOURS[kind]}" stroke-opacity="0.4" stroke-dasharray="3 2">'
                     f'<title>{escape(title)}</title></rect>')
    for s in sessions:
        y = KIND_ORDER.index(s.kind) * LANE
        x1, x2 = _x(s.start, start, span), _x(s.end, start, span)
        bad = s.id in flagged
        stroke = ' stroke="#cd4246" stroke-width="2.5"' if bad else ""
        title = escape(f"{s.id} {s.kind.value} {local_text(s.start, s.zone)}–"
                       f"{local_text(s.end, s.zone)} ({s.clinician})")
        rect = (f'<rect class="session{" flagged" if bad else ""}" x="{x1:.1f}" y="{y + 4}" '
                f'width="{max(x2 - x1, 3):.1f}" height="{LANE - 8}" rx="2" '
                f'fill="{COLOURS[s.kind]}"{stroke}><title>{title}</title></rect>')
        if s.id in anchors:
            rect = f'<a href="#{anchors[s.id]}">{rect}</a>'
        parts.append(rect)
    days = max(1, int(span // 86400))
    step = max(1, days // 8)
    tick = start.replace(hour=0, minute=0, second=0) + timedelta(days=1)
    y = LANE * len(KIND_ORDER) + 16
    while tick < end:
        x = _x(tick, start, span)
        if x > WIDTH - 40:
            break
        zone = sessions[0].zone if sessions else None
        parts.append(f'<text x="{x:.1f}" y="{y}" font-size="10" fill="#5f6b7c" '
                     f'text-anchor="middle">{local_text(tick, zone)[:10]}</text>')
        tick += timedelta(days=step)
    parts.append("</svg>")
    return "".join(parts)


def render(report: Report, schedule: Schedule, protocol: Protocol, sources: Sequence[str],
           generated: datetime | None = None) -> str:
    generated = generated or datetime.now(timezone.utc)
    by_patient: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_patient[f.patient or ""].append(f)
    sessions_of: dict[str, list[Session]] = defaultdict(list)
    for s in sorted(schedule.sessions, key=lambda s: s.order):
        sessions_of[s.patient].append(s)
    verdict = ('<span class="verdict ok">compliant</span>' if report.compliant
               else '<span class="verdict bad">not compliant</span>')
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>kapcheck report — {escape(report.clinic or 'schedule')}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>{escape(report.clinic or 'Schedule')}: protocol check</h1>",
           f'<p class="meta">Protocol <b>{escape(report.protocol_name)}</b> '
           f"{escape(report.protocol_version)} · {report.patients} patients · "
           f"{report.sessions} sessions · waivers judged on "
           f"{escape(str(report.as_of or 'the day of the run'))}</p>",
           f"<p>{verdict} {count(report.errors, 'error')}, {count(report.warnings, 'warning')}, "
           f"{report.waived} waived</p>"]
    counts = Counter((f.rule, f.severity.value, f.waived) for f in report.findings)
    out.append("<h2>Findings by rule</h2><table><tr><th>Rule</th><th>Requirement</th>"
               "<th>Severity</th><th>Findings</th><th>Waived</th></tr>")
    for settings in protocol.rules:
        n = counts[(settings.id, settings.severity.value, False)]
        waived = counts[(settings.id, settings.severity.value, True)]
        text = settings.requirement_text()
        state = settings.severity.value if settings.enabled else "disabled"
        out.append(f"<tr><td>{settings.id}</td><td>{escape(text)}</td><td>{state}</td>"
                   f'<td class="{settings.severity.value if n else ""}">{n}</td><td>{waived}</td></tr>')
    unmatched = [f for f in report.findings if f.rule == WAIVER_RULE]
    if unmatched:
        out.append(f"<tr><td>WAIVER-001</td><td>A waiver matches a finding.</td><td>warning</td>"
                   f'<td class="warning">{len(unmatched)}</td><td>0</td></tr>')
    out.append("</table>")
    if schedule.waivers:
        out.append("<h2>Waivers</h2><table><tr><th>Rule</th><th>For</th><th>Reason</th>"
                   "<th>Approved by</th><th>Holds through</th></tr>")
        for w in schedule.waivers:
            target = f"session {w.session}" if w.session else f"patient {w.patient}"
            out.append(f"<tr><td>{escape(w.rule)}</td><td>{escape(target)}</td>"
                       f"<td>{escape(w.reason)}</td><td>{escape(w.approved_by)}</td>"
                       f"<td>{w.expires or 'no expiry'}</td></tr>")
        out.append("</table>")
    out.append('<h2>Patients</h2><p class="legend">' + "".join(
        f'<span><i style="background:{COLOURS[k]}"></i>{k.value}</span>' for k in KIND_ORDER)
        + '<span><i style="border:2px solid #cd4246"></i>has a finding</span>'
        '<span><i style="border:1px dashed #888"></i>window a rule requires</span></p>')
    number = 0
    for patient in sorted(schedule.patients, key=lambda p: p.id):
        findings = by_patient.get(patient.id, [])
        sessions = sessions_of.get(patient.id, [])
        anchors: dict[str, str] = {}
        rows = []
        for f in findings:
            number += 1
            fid = f"f{number}"
            if f.session and f.session not in anchors:
                anchors[f.session] = fid
            cls = "waived" if f.waived else f.severity.value
            waiver = (f"<br><i>Waived: {escape(f.waiver.reason)} (approved by "
                      f"{escape(f.waiver.approved_by)})</i>" if f.waiver else "")
            rows.append(f'<tr id="{fid}"><td>{f.rule}</td><td class="{cls}">'
                        f'{"waived " if f.waived else ""}{f.severity.value}</td>'
                        f"<td>{escape(f.session or '—')}</td><td>{escape(f.message)}{waiver}</td>"
                        f"<td>{escape(f.suggestion)}</td></tr>")
        status = (f'<span class="error">{count(sum(1 for f in findings if not f.waived), "finding")}</span>'
                  if any(not f.waived for f in findings) else "no findings")
        out.append(f'<section class="patient" id="patient-{escape(patient.id)}">'
                   f"<h3>Patient {escape(patient.id)} · "
                   f"{escape(', '.join(patient.diagnoses) or 'no diagnosis')} · {status}</h3>")
        if sessions:
            out.append(timeline(sessions, findings, protocol, anchors))
        if rows:
            out.append("<table><tr><th>Rule</th><th>Severity</th><th>Session</th>"
                       "<th>Finding</th><th>Suggestion</th></tr>" + "".join(rows) + "</table>")
        out.append("</section>")
    loose = by_patient.get("", [])
    for f in loose:
        out.append(f"<p>{escape(f.rule)}: {escape(f.message)}</p>")
    out.append("<footer>")
    for path, digest in sha256_of(sources):
        out.append(f"Input {escape(path)}: SHA-256 {digest}<br>")
    out.append(f"kapcheck {escape(_kapcheck_version())} · generated "
               f"{generated.strftime('%Y-%m-%d %H:%M:%S UTC')}</footer></body></html>")
    return "\n".join(out) + "\n"
