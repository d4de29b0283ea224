"""The audit report: one self-contained HTML file (inline CSS and SVG, no scripts,
no fonts, no network) with a summary, the protocol's rules and diagnosis map, each
patient's course as a timeline with its sessions listed under it, and the findings
with their suggestions. It prints legibly: nothing is only on hover. With a proposal,
the proposed sessions are marked and the change is listed first."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from html import escape
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from kapcheck.protocol import Kind, Protocol, Schedule, Session
from kapcheck.protocol.model import shown_parameters
from kapcheck.protocol.times import local_text
from kapcheck.rules import WAIVER_RULE, Finding, Report
from kapcheck.rules.report import count, today_in

from .provenance import sha256_of
from .render import evidence_text

KIND_ORDER = [Kind.ASSESSMENT, Kind.PREPARATION, Kind.DOSING, Kind.INTEGRATION,
              Kind.PSYCHOTHERAPY]
COLOURS = {Kind.ASSESSMENT: "#7a6fb0", Kind.PREPARATION: "#3c8dbc", Kind.DOSING: "#d9822b",
           Kind.INTEGRATION: "#2e9e6b", Kind.PSYCHOTHERAPY: "#5c7080"}
WIDTH, LANE, LEFT = 900, 34, 110
#: Labels are set in a monospace face, so their width is known: this many px a
#: character at LABEL_SIZE (0.6 em, with a little to spare).
LABEL_SIZE, CHAR_PX = 9, 5.6

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c2127;margin:2em auto;max-width:1000px;padding:0 1em}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.25em;margin:1.6em 0 .4em;border-bottom:2px solid #d3d8de;padding-bottom:.2em}
.meta{color:#5f6b7c}.verdict{display:inline-block;padding:.2em .7em;border-radius:4px;font-weight:600;color:#fff}
.ok{background:#238551}.bad{background:#cd4246}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #d3d8de;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f6f7f9}td:first-child{white-space:nowrap}.error{color:#cd4246;font-weight:600}.warning{color:#c87619;font-weight:600}.waived{color:#5f6b7c}
.patient{page-break-inside:avoid;break-inside:avoid}svg{display:block;margin:.4em 0}
.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
.proposed{font-weight:600;color:#7a4fb0}.toc{columns:2;color:#5f6b7c}.toc li{margin:.1em 0}
.sessions td{font-size:.92em}.source,.sessions td:last-child{color:#5f6b7c;font-size:.85em}
footer{margin-top:2em;color:#5f6b7c;font-size:.85em;border-top:1px solid #d3d8de;padding-top:.5em;word-break:break-all}
a{color:inherit}@media print{body{margin:0;max-width:none}a{text-decoration:none}}
"""


def _kapcheck_version() -> str:
    try:
        return version("kapcheck")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "unknown"


def _x(t: datetime, start: datetime, span: float) -> float:
    return LEFT + (t - start).total_seconds() / span * (WIDTH - LEFT - 10)


def _windows(sessions: Sequence[Session], protocol: Protocol
             ) -> list[tuple[Kind, datetime, datetime, str]]:
    """The windows the protocol's enabled timing rules require, for one patient's course:
    after each anchor session (``after-each``), before the first (``before-first``)."""
    windows: list[tuple[Kind, datetime, datetime, str]] = []
    for rule in protocol.rules:
        p = rule.parameters
        if not rule.enabled or rule.template not in ("after-each", "before-first"):
            continue
        anchors = [s for s in sessions if s.kind.value == str(p["anchor"])]
        kind = Kind(str(p["kind"]))
        if rule.template == "after-each" and p.get("window_hours") is not None:
            for a in anchors[:1] if p.get("only_first") else anchors:
                windows.append((kind, a.end + timedelta(hours=p.get("min_hours_after") or 0),
                                a.end + timedelta(hours=p["window_hours"]),
                                f"{rule.id}: {kind.value} window after {a.id}"))
        elif rule.template == "before-first" and anchors and p.get("max_days_before") is not None:
            first = anchors[0]
            windows.append((kind, first.start - timedelta(days=p["max_days_before"]),
                            first.start - timedelta(hours=p.get("min_hours_before") or 0),
                            f"{rule.id}: {kind.value} window before the first {first.kind.value} "
                            f"{first.id}"))
    return windows


def timeline(sessions: Sequence[Session], findings: Sequence[Finding], protocol: Protocol,
             anchors: dict[str, str], proposed: frozenset[str] = frozenset(),
             windows_drawn: bool = True) -> str:
    """An SVG of one patient's course (or one room's day book, without the rule windows):
    lanes by kind, rule windows behind, sessions with a finding outlined red, proposed
    sessions dashed; each block labelled with its id, a group session's with its size
    (``G-1 (3)``)."""
    windows = _windows(sessions, protocol) if windows_drawn else []
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
    #: Each lane's placed labels, per row: (left, right) spans that none may overlap.
    placed: dict[tuple[Any, int], list[tuple[float, float]]] = {}
    # Proposed sessions first: their marked labels are placed before any other.
    for s in sorted(sessions, key=lambda s: s.id not in proposed):
        y = KIND_ORDER.index(s.kind) * LANE
        x1, x2 = _x(s.start, start, span), _x(s.end, start, span)
        bad = s.id in flagged
        new = s.id in proposed
        stroke = (' stroke="#cd4246" stroke-width="2.5"' if bad else
                  ' stroke="#7a4fb0" stroke-width="2"' if new else "")
        if new:
            stroke += ' stroke-dasharray="4 2"'
        group = len(s.patients) > 1
        classes = ("session" + (" group" if group else "") + (" flagged" if bad else "")
                   + (" proposed" if new else ""))
        title = escape(f"{s.id} {s.kind.value} {local_text(s.start, s.zone)}–"
                       f"{local_text(s.end, s.zone)} ({', '.join(s.clinicians)})"
                       + (f", group of {len(s.patients)}: {', '.join(s.patients)}" if group
                          else "")
                       + (f", room {s.room}" if s.room else "")
                       + (" — proposed" if new else ""))
        size = f' data-group-size="{len(s.patients)}"' if group else ""
        rect = (f'<rect class="{classes}"{size} x="{x1:.1f}" y="{y + 4}" '
                f'width="{max(x2 - x1, 3):.1f}" height="12" rx="2" '
                f'fill="{COLOURS[s.kind]}"{stroke}><title>{title}</title></rect>')
        if group:  # a group: a second, inner outline, whatever else the block shows
            rect += (f'<rect class="group-mark" x="{x1 + 1:.1f}" y="{y + 6}" '
                     f'width="{max(x2 - x1 - 2, 1):.1f}" height="8" rx="1" fill="none" '
                     f'stroke="#ffffff" stroke-width="1"/>')
        label = _label(s.id + (f" ({len(s.patients)})" if group else "") + ("*" if new else ""),
                       x1, x1 + max(x2 - x1, 3), y, s.kind, placed)
        if label:
            rect += label
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


def _label(text: str, x1: float, x2: float, y: int, kind: Any,
           placed: dict[tuple[Any, int], list[tuple[float, float]]]) -> str:
    """A session's id beside its block, where it overlaps no other label and stays inside
    the drawing: right of the block, else left of it (row 0, beside the block), else
    under the block (row 1). An id that fits nowhere is left out of the drawing; the
    table of sessions under it lists every one."""
    width = CHAR_PX * len(text)
    options = [(0, x2 + 2), (0, x1 - 2 - width), (1, x1), (1, x2 - width)]
    for row, left in options:
        left = max(LEFT, min(left, WIDTH - 4 - width)) if row == 1 else left
        right = left + width
        if left < LEFT or right > WIDTH - 4:
            continue
        spans = placed.setdefault((kind, row), [])
        if any(left < b + 3 and a < right + 3 for a, b in spans):
            continue
        spans.append((left, right))
        base = y + 14 if row == 0 else y + 27
        return (f'<text class="label" x="{left:.1f}" y="{base}" font-size="{LABEL_SIZE}" '
                f'font-family="monospace" fill="#404854">{escape(text)}</text>')
    return ""


def _session_rows(sessions: Sequence[Session], proposed: frozenset[str],
                  anchors: dict[str, str]) -> str:
    """The patient's sessions as a table under the timeline, so that paper keeps them."""
    rows = []
    for s in sessions:
        what = s.kind.value + (f" · {s.modality}" if s.modality else "") + \
            (f" · {s.route.value}" if s.route else "") + \
            (f" · {s.dose_mg:g} mg" if s.dose_mg is not None else "") + \
            (f" · group of {len(s.patients)} ({', '.join(s.patients)})"
             if len(s.patients) > 1 else "") + (f" · room {s.room}" if s.room else "")
        ident = escape(s.id)
        if s.id in anchors:
            ident = f'<a href="#{anchors[s.id]}">{ident}</a>'
        mark = ' <span class="proposed">proposed</span>' if s.id in proposed else ""
        begin, end = local_text(s.start, s.zone), local_text(s.end, s.zone)
        if end[:10] == begin[:10]:
            end = end[11:]  # the same day: its time only
        rows.append(f"<tr><td>{ident}{mark}<td>{escape(what)}<td>{escape(begin)} – "
                    f"{escape(end)}<td>{escape(', '.join(s.clinicians))}"
                    f"<td>{escape(s.source or '')}</tr>")
    return ('<table class="sessions"><tr><th>Session</th><th>Kind</th><th>Time</th>'
            "<th>Clinician</th><th>Written at</th></tr>" + "".join(rows) + "</table>")


def _rooms_section(rooms_of: dict[str, list[Session]], report: Report, protocol: Protocol,
                   proposed: frozenset[str]) -> list[str]:
    """One timeline per room: the sessions booked into it, of every patient, those that a
    room rule flags outlined red."""
    if not rooms_of:
        return []
    room_rules = {r.id for r in protocol.rules if r.template == "room-overlap"}
    out = ['<h2 id="rooms">Rooms</h2><p>Each room\'s sessions, whoever they are for; a '
           "session outlined red overlaps another in the same room.</p>"]
    for number, room in enumerate(sorted(rooms_of), 1):
        sessions = rooms_of[room]
        ids = {s.id for s in sessions}
        flagged = [f for f in report.findings if f.rule in room_rules and f.session in ids]
        out.append(f'<section class="room" id="room-{number}"><h3>Room {escape(room)} · '
                   f"{count(len(sessions), 'session')}</h3>")
        out.append(timeline(sessions, flagged, protocol, {}, proposed, windows_drawn=False))
        out.append(_session_rows(sessions, proposed, {}))
        out.append("</section>")
    return out


def _protocol_section(protocol: Protocol) -> list[str]:
    out = ['<h2 id="protocol">Protocol</h2>',
           f"<p>{escape(protocol.name)} {escape(protocol.version)}, from "
           f"{escape(' → '.join(protocol.files) or protocol.name)}.</p>",
           "<table><tr><th>Rule</th><th>Template</th><th>Severity</th><th>Parameters</th>"
           "<th>Why, and on what source</th></tr>"]
    for rule in protocol.rules:
        shown = shown_parameters(rule)
        params = "; ".join(f"{k} = {shown[k]}" for k in rule.parameters if shown[k] != "none")
        state = rule.severity.value if rule.enabled else "disabled"
        why = (f"<p>{escape(rule.rationale or '(no rationale given)')}</p>"
               f"<p class=\"source\">Source: {escape(rule.source or '(none cited)')}</p>"
               f"<p class=\"evidence\">Evidence: {escape(evidence_text(rule.evidence))}</p>")
        out.append(f"<tr><td>{escape(rule.id)}<br>{escape(rule.title)}</td>"
                   f"<td>{escape(rule.template)}</td><td>{state}</td>"
                   f"<td>{escape(params or '—')}</td><td>{why}</td></tr>")
    out.append("</table><h3>Diagnosis map</h3><p>A diagnosis is covered by every entry whose "
               "ICD-10-CM prefix it starts with; those entries' modalities fit it.</p>"
               "<table><tr><th>ICD-10-CM prefix</th><th>Modalities that fit</th></tr>")
    for entry in protocol.diagnoses.entries:
        out.append(f"<tr><td>{escape(entry.prefix)}</td>"
                   f"<td>{escape(', '.join(entry.modalities))}</td></tr>")
    out.append("</table>")
    return out


def render(report: Report, schedule: Schedule, protocol: Protocol, sources: Sequence[str],
           generated: datetime | None = None, *, inputs: Sequence[str] | None = None,
           proposed: frozenset[str] = frozenset(), cancelled: Sequence[Session] = (),
           change: tuple[Sequence[Finding], Sequence[Finding]] | None = None) -> str:
    """The page. ``sources`` are the schedule files; ``inputs`` every file the run read
    (schedules, rosters, waivers, the protocol's extends chain), each hashed in the
    footer. With a proposal: ``schedule`` as it leaves it, ``proposed`` the ids it adds
    or moves, ``cancelled`` the booked sessions it cancels, ``change`` (introduced,
    resolved)."""
    generated = generated or datetime.now(timezone.utc)
    by_patient: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_patient[f.patient or ""].append(f)
    sessions_of: dict[str, list[Session]] = defaultdict(list)
    rooms_of: dict[str, list[Session]] = defaultdict(list)
    for s in sorted(schedule.sessions, key=lambda s: s.order):
        for pid in s.patients:  # a group session is drawn once on each patient's timeline
            sessions_of[pid].append(s)
        if s.room is not None:
            rooms_of[s.room].append(s)
    verdict = ('<span class="verdict ok">compliant</span>' if report.compliant
               else '<span class="verdict bad">not compliant</span>')
    title = report.clinic or ", ".join(Path(s).name for s in sources) or "Schedule"
    judged = (report.as_of.isoformat() if report.as_of else
              f"{today_in(schedule.timezone).isoformat()} (the day of the run)")
    patients = sorted(schedule.patients, key=lambda p: p.id)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>kapcheck report — {escape(title)}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>{escape(title)}: protocol check{' of a proposed change' if change else ''}</h1>",
           f'<p class="meta">Protocol <b>{escape(report.protocol_name)}</b> '
           f"{escape(report.protocol_version)} · {report.patients} patients · "
           f"{report.sessions} sessions · waivers judged on {escape(judged)}</p>",
           f"<p>{verdict} {count(report.errors, 'error')}, {count(report.warnings, 'warning')}, "
           f"{report.waived} waived</p>"]
    toc = ['<li><a href="#change">The proposed change</a></li>'] if change else []
    toc += ['<li><a href="#rules">Findings by rule</a></li>',
            '<li><a href="#protocol">Protocol and diagnosis map</a></li>']
    toc += ['<li><a href="#waivers">Waivers</a></li>'] if schedule.waivers else []
    toc += [f'<li><a href="#patient-{escape(p.id)}">Patient {escape(p.id)}</a> · '
            f"{len(by_patient.get(p.id, []))}</li>" for p in patients]
    toc += ['<li><a href="#rooms">Rooms</a></li>'] if rooms_of else []
    out.append('<nav><h2>Contents</h2><ul class="toc">' + "".join(toc) + "</ul></nav>")
    number = 0
    ids: dict[int, str] = {}
    for patient in patients:
        for f in by_patient.get(patient.id, []):
            number += 1
            ids[id(f)] = f"f{number}"
    if change is not None:
        introduced, resolved = change
        out.append('<h2 id="change">The proposed change</h2>')
        if proposed or cancelled:
            out.append(f"<p>Proposed sessions (added or moved), marked on the timelines: "
                       f"{escape(', '.join(sorted(proposed)) or 'none')}. Cancelled: "
                       f"{escape(', '.join(s.id for s in cancelled) or 'none')}.</p>")
        out.append(f"<h3>Introduced ({len(introduced)})</h3>")
        out.append("<ul>" + "".join(
            f'<li><a href="#{ids.get(id(f), "")}">{escape(f.rule)} {escape(f.session or "")}</a>: '
            f"{escape(f.message)}</li>" for f in introduced) + "</ul>" if introduced
            else "<p>Nothing.</p>")
        out.append(f"<h3>Resolved ({len(resolved)})</h3>")
        out.append("<ul>" + "".join(
            f"<li>{escape(f.rule)} {escape(f.session or '')}: {escape(f.message)}</li>"
            for f in resolved) + "</ul>" if resolved else "<p>Nothing.</p>")
    counts = Counter((f.rule, f.severity.value, f.waived) for f in report.findings)
    patients_with: dict[str, list[str]] = defaultdict(list)
    for f in report.findings:
        if f.patient and f.patient not in patients_with[f.rule]:
            patients_with[f.rule].append(f.patient)
    out.append('<h2 id="rules">Findings by rule</h2><table><tr><th>Rule</th><th>Requirement</th>'
               "<th>Severity</th><th>Findings</th><th>Waived</th><th>Patients</th></tr>")

    def links(rule_id: str) -> str:
        return ", ".join(f'<a href="#patient-{escape(p)}">{escape(p)}</a>'
                         for p in sorted(patients_with.get(rule_id, [])))

    for settings in protocol.rules:
        n = counts[(settings.id, settings.severity.value, False)]
        waived = counts[(settings.id, settings.severity.value, True)]
        text = settings.requirement_text()
        state = settings.severity.value if settings.enabled else "disabled"
        out.append(f"<tr><td>{settings.id}</td><td>{escape(text)}</td><td>{state}</td>"
                   f'<td class="{settings.severity.value if n else ""}">{n}</td><td>{waived}</td>'
                   f"<td>{links(settings.id)}</td></tr>")
    unmatched = [f for f in report.findings if f.rule == WAIVER_RULE]
    if unmatched:
        out.append(f"<tr><td>WAIVER-001</td><td>A waiver matches a finding.</td><td>warning</td>"
                   f'<td class="warning">{len(unmatched)}</td><td>0</td>'
                   f"<td>{links(WAIVER_RULE)}</td></tr>")
    out.append("</table>")
    out.extend(_protocol_section(protocol))
    if schedule.waivers:
        out.append('<h2 id="waivers">Waivers</h2><table><tr><th>Rule</th><th>For</th>'
                   "<th>Reason</th><th>Approved by</th><th>Holds through</th><th>Written at</th></tr>")
        for w in schedule.waivers:
            target = f"session {w.session}" if w.session else f"patient {w.patient}"
            out.append(f"<tr><td>{escape(w.rule)}</td><td>{escape(target)}</td>"
                       f"<td>{escape(w.reason)}</td><td>{escape(w.approved_by)}</td>"
                       f"<td>{w.expires or 'no expiry'}</td>"
                       f'<td class="source">{escape(w.origin)}</td></tr>')
        out.append("</table>")
    legend = "".join(f'<span><i style="background:{COLOURS[k]}"></i>{k.value}</span>'
                     for k in KIND_ORDER)
    legend += ('<span><i style="border:2px solid #cd4246"></i>has a finding</span>'
               '<span><i style="border:1px dashed #888"></i>window a rule requires</span>')
    if change is not None:
        legend += '<span><i style="border:2px dashed #7a4fb0"></i>proposed (id*)</span>'
    out.append('<h2>Patients</h2><p class="legend">' + legend + "</p>")
    for patient in patients:
        findings = by_patient.get(patient.id, [])
        sessions = sessions_of.get(patient.id, [])
        anchors: dict[str, str] = {}
        rows = []
        for f in findings:
            fid = ids[id(f)]
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
            out.append(timeline(sessions, findings, protocol, anchors, proposed))
            out.append(_session_rows(sessions, proposed, anchors))
        gone = [s for s in cancelled if patient.id in s.patients]
        if gone:
            out.append("<p>Cancelled by the proposal: " + escape(", ".join(
                f"{s.id} ({s.kind.value}, {local_text(s.start, s.zone)})" for s in gone)) + "</p>")
        if rows:
            out.append("<table><tr><th>Rule</th><th>Severity</th><th>Session</th>"
                       "<th>Finding</th><th>Suggestion</th></tr>" + "".join(rows) + "</table>")
        out.append("</section>")
    out.extend(_rooms_section(rooms_of, report, protocol, proposed))
    loose = by_patient.get("", [])
    for f in loose:
        out.append(f"<p>{escape(f.rule)}: {escape(f.message)}</p>")
    out.append("<footer>")
    for path, digest in sha256_of(inputs if inputs is not None else sources):
        out.append(f"Input {escape(path)}: SHA-256 {digest}<br>")
    out.append(f"kapcheck {escape(_kapcheck_version())} · generated "
               f"{generated.strftime('%Y-%m-%d %H:%M:%S UTC')}</footer></body></html>")
    return "\n".join(out) + "\n"
