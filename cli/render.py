"""Reports and catalogs as text: JSON, a table for people, JUnit XML, Markdown."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from kapcheck.protocol import Protocol, Severity, Waiver
from kapcheck.rules import Finding, Report
from kapcheck.rules.report import count

if TYPE_CHECKING:
    from rich.console import Console

# rich is imported by the functions that draw tables: a run that writes JSON or JUnit
# does without it (about 60 ms of every such run).

REPORT_VERSION = "1"
#: Template parameters that say which sessions a rule is about, not how much: the
#: rules JSON lists them under ``applies_to``; ``parameters`` holds what a protocol
#: file set of the rest (the template's defaults are in the docs and `explain`).
SHAPE = ("anchor", "kind")


def installed_version() -> str:
    """kapcheck's version as installed ("0" when run from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kapcheck")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


def waiver_json(w: Waiver | None) -> dict[str, Any] | None:
    if w is None:
        return None
    body: dict[str, Any] = {"rule": w.rule}
    if w.session is not None:
        body["session"] = w.session
    if w.patient is not None:
        body["patient"] = w.patient
    body.update({"reason": w.reason, "approved_by": w.approved_by,
                 "expires": w.expires.isoformat() if w.expires else None})
    return body


def finding_json(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "severity": f.severity.value, "patient": f.patient,
            "session": f.session, "related": sorted(f.related), "message": f.message,
            "suggestion": f.suggestion, "waiver": waiver_json(f.waiver), "source": f.source}


def problems_json(problems: Sequence[Any]) -> str:
    """What `--format json` prints when the input is unusable (exit 2)."""
    doc = {"kapcheck": REPORT_VERSION, "error": "unusable input",
           "problems": [p.as_json() for p in problems]}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


#: Characters XML 1.0 cannot hold, even escaped (controls but tab and newlines, lone
#: surrogates, U+FFFE and U+FFFF): each is written as U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """XML character data (xml.sax.saxutils, imported by the JUnit output alone: it
    brings urllib and http.client, 35 ms of every run's start)."""
    from xml.sax.saxutils import escape as xml_escape

    return xml_escape(_NOT_XML.sub("\ufffd", text))


def quoteattr(text: str) -> str:
    """An XML attribute value with its quotes (xml.sax.saxutils, as ``escape``)."""
    from xml.sax.saxutils import quoteattr as xml_quoteattr

    return xml_quoteattr(_NOT_XML.sub("\ufffd", text))


def problems_junit(problems: Sequence[Any]) -> str:
    """What `--format junit` prints when the input is unusable: one erroring testcase."""
    text = "\n".join(str(p) for p in problems)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<testsuites name="kapcheck" tests="1" failures="0" errors="1" time="0">\n'
            '  <testsuite name="kapcheck input" tests="1" failures="0" errors="1" skipped="0" '
            'time="0">\n'
            '    <testcase name="the input is usable" classname="kapcheck.input" time="0">'
            f'<error message={quoteattr(f"{len(problems)} problem(s) in the input")} '
            f'type="unusable input">{escape(text)}</error></testcase>\n'
            "  </testsuite>\n</testsuites>\n")


def change_json(introduced: Sequence[Finding | dict[str, Any]],
                resolved: Sequence[Finding | dict[str, Any]]) -> dict[str, Any]:
    """The ``change`` section: findings as the report writes them (a baseline's as it
    wrote them)."""
    def one(f: Finding | dict[str, Any]) -> dict[str, Any]:
        return f if isinstance(f, dict) else finding_json(f)

    return {"introduced": [one(f) for f in introduced], "resolved": [one(f) for f in resolved]}


def pretty_json(doc: Any) -> str:
    """JSON as kapcheck writes it: two-space indents, UTF-8, a final newline."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()


def report_json(report: Report, change: dict[str, Any] | None = None,
                meta: dict[str, Any] | None = None) -> str:
    return report_json_bytes(report, change, meta).decode()


def report_json_bytes(report: Report, change: dict[str, Any] | None = None,
                      meta: dict[str, Any] | None = None) -> bytes:
    """The JSON report as UTF-8 bytes: at a million sessions the text is tens of MiB,
    and the command line writes these bytes without making a str of them."""
    doc = {
        "kapcheck": REPORT_VERSION,
        "protocol": {"name": report.protocol_name, "version": report.protocol_version},
        "compliant": report.compliant,
        "summary": {"patients": report.patients, "sessions": report.sessions,
                    "errors": report.errors, "warnings": report.warnings,
                    "waived": report.waived},
        "findings": [finding_json(f) for f in report.findings],
        "skipped": [{"source": k.source, "reason": k.reason} for k in report.skipped],
    }
    if change is not None:
        doc["change"] = change
    if meta is not None:
        doc["meta"] = meta
    # orjson writes the same bytes as json.dumps(indent=2, ensure_ascii=False), faster.
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow"}


#: Below this width, or with a session id longer than STACK_ID_CHARS, each finding is a
#: block of lines rather than a table row: a table's columns would shrink to a few
#: characters, or cut an id (a calendar instance's date is at its end).
STACK_WIDTH = 110
STACK_ID_CHARS = 24


def report_table(report: Report, console: Console) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    title = f"kapcheck — protocol {report.protocol_name} {report.protocol_version}".rstrip()
    if report.clinic:
        title += f" — {report.clinic}"
    by_patient: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_patient[f.patient or "(no patient)"].append(f)
    console.print(Text(title, style="bold"))
    stacked = console.width < STACK_WIDTH or any(
        len(f.session or "") > STACK_ID_CHARS for f in report.findings)
    for patient, findings in by_patient.items():
        if stacked:
            console.print(Text(f"Patient {patient}", style="bold underline"))
            for f in findings:
                _stacked(f, console)
            continue
        table = Table(show_header=True, header_style="bold", expand=True, show_lines=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Session", no_wrap=True)
        table.add_column("Finding", ratio=3)
        table.add_column("Suggestion", ratio=2)
        for f in findings:
            table.add_row(Text.assemble(f.rule, "\n", _state(f)), Text(f.session or "—"),
                          _message(f), Text(f.suggestion))
        console.print(Panel(table, title=Text(f"Patient {patient}"), title_align="left"))
    verdict = Text("compliant", style="bold green") if report.compliant else \
        Text("not compliant", style="bold red")
    console.print(Text.assemble(
        verdict, f": {count(report.patients, 'patient')}, {count(report.sessions, 'session')}, "
                 f"{count(report.errors, 'error')}, {count(report.warnings, 'warning')}, "
                 f"{report.waived} waived"))
    if report.skipped:
        reasons: dict[str, int] = defaultdict(int)
        for k in report.skipped:
            reasons[k.reason] += 1
        console.print(Text(f"{count(len(report.skipped), 'entry', 'entries')} of the exports "
                           "set aside by the mapping (not sessions):", style="dim"))
        for reason, n in reasons.items():
            console.print(Text(f"  {n} by {reason}", style="dim"))


def _state(f: Finding) -> Any:
    from rich.text import Text

    if f.waiver is not None:
        return Text(f"waived ({f.severity.value})", style="dim")
    return Text(f.severity.value, style=_STYLE[f.severity])


def _message(f: Finding) -> Any:
    from rich.text import Text

    message = Text(f.message)
    if f.source:
        message.append(f"\n{f.source}", style="dim")
    if f.waiver is not None:
        message.append(f"\nWaived: {f.waiver.reason} (approved by {f.waiver.approved_by}"
                       + (f", until {f.waiver.expires}" if f.waiver.expires else "") + ")",
                       style="dim")
    return message


def _stacked(f: Finding, console: Console) -> None:
    """One finding as a block of lines, each wrapped to the console's width (an id
    longer than a line is folded, never cut)."""
    from rich.padding import Padding
    from rich.text import Text

    head = Text.assemble((f.rule, "bold"), "  ", _state(f), "  ", f.session or "—")
    head.overflow = "fold"
    console.print(head)
    body = _message(f)
    body.append("\nFix: ", style="bold")
    body.append(f.suggestion)
    body.overflow = "fold"
    console.print(Padding(body, (0, 0, 1, 2)))


def change_table(report: Report, introduced: Sequence[Finding],
                 resolved: Sequence[Finding | dict[str, Any]], console: Console,
                 moves: Sequence[tuple[str, str, str]] = (),
                 touched: dict[str, str] | None = None) -> None:
    """What a proposal or a run since a baseline changed: the moves (old → new time),
    introduced findings first (each linked to the proposal entries that touch its
    sessions), resolved ones as fixed, then the totals, plainly."""
    from rich.table import Table
    from rich.text import Text

    title = f"kapcheck — protocol {report.protocol_name} {report.protocol_version}".rstrip()
    console.print(Text(title + (f" — {report.clinic}" if report.clinic else ""), style="bold"))
    for sid, before, after in moves:
        console.print(Text(f"Moved {sid}: {before} → {after}"))
    table = Table(show_header=True, header_style="bold", expand=True, show_lines=True,
                  title="Introduced by the change")
    table.add_column("Rule", no_wrap=True)
    table.add_column("Session", overflow="fold")
    table.add_column("Finding", ratio=3)
    table.add_column("Suggestion", ratio=2)
    for f in introduced:
        state = f"waived ({f.severity.value})" if f.waived else f"NEW {f.severity.value}"
        message = Text(f.message)
        causes = sorted({touched[sid] for sid in (f.session, *f.related)
                         if touched and sid in touched})
        if causes:
            message.append(f"\nBecause of: {'; '.join(causes)}", style="dim")
        table.add_row(Text.assemble(f.rule, "\n", Text(state, style=_STYLE[f.severity])),
                      Text(f.session or "—"), message, Text(f.suggestion))
    if introduced:
        console.print(table)
    else:
        console.print("Introduced by the change: nothing.")
    if resolved:
        console.print(Text("Resolved by the change:", style="bold"))
        for r in resolved:
            rule, session, said = ((r["rule"], r["session"], r["message"]) if isinstance(r, dict)
                                   else (r.rule, r.session, r.message))
            console.print(f"  fixed  {rule} {session or '—'}: {said}", markup=False)
    kept = len(report.findings) - len(introduced)
    console.print(f"Already there before the change, and still: {count(kept, 'finding')}. "
                  f"The schedule as changed has {count(report.errors, 'unwaived error')} and "
                  f"{count(report.warnings, 'unwaived warning')} in all.", markup=False)


def report_junit(report: Report, rule_order: Sequence[str],
                 fail_on: Severity = Severity.ERROR) -> str:
    """One testcase per rule per patient. A testcase fails when it has an unwaived
    finding at or above ``fail_on``, exactly when the exit code would be 1; findings
    below it (warnings, by default) and waived ones go to the testcase's system-out."""
    cases: list[str] = []
    failures = 0
    by_key: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_key[(f.rule, f.patient or "")].append(f)
    all_patients = sorted(set(report.patient_ids) | {f.patient for f in report.findings if f.patient})
    for rule_id in list(rule_order) + sorted({f.rule for f in report.findings} - set(rule_order)):
        for patient in all_patients:
            found = [f for f in by_key.get((rule_id, patient), [])
                     if not f.waived and f.severity.rank >= fail_on.rank]
            waived = [f for f in by_key.get((rule_id, patient), []) if f not in found]
            name = quoteattr(f"{rule_id} {patient}")
            classname = quoteattr(f"kapcheck.{report.protocol_name}.{rule_id}")
            body = ""
            if found:
                failures += 1
                text = "\n".join(f"[{f.severity.value}] {f.session or '-'}: {f.message}\n"
                                 f"  suggestion: {f.suggestion}"
                                 + (f"\n  written at: {f.source}" if f.source else "")
                                 for f in found)
                kind = "error" if any(f.severity is Severity.ERROR for f in found) else "warning"
                body = (f'<failure message={quoteattr(found[0].message)} type="{kind}">'
                        f"{escape(text)}</failure>")
            if waived:
                out = "\n".join(f"waived {f.session or '-'}: {f.message} ({f.waiver.reason})"
                                if f.waiver else f"[{f.severity.value}] {f.session or '-'}: "
                                                 f"{f.message}" for f in waived)
                body += f"<system-out>{escape(out)}</system-out>"
            cases.append(f'    <testcase name={name} classname={classname} time="0">'
                         f"{body}</testcase>")
    suite = quoteattr(f"kapcheck {report.protocol_name} {report.protocol_version}".strip())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuites name="kapcheck" tests="{len(cases)}" failures="{failures}" '
            f'errors="0" time="0">\n'
            f'  <testsuite name={suite} tests="{len(cases)}" failures="{failures}" errors="0" '
            f'skipped="0" time="0">\n'
            + "\n".join(cases) + ("\n" if cases else "")
            + "  </testsuite>\n</testsuites>\n")


def _value_text(value: Any) -> str:
    if hasattr(value, "items"):
        return "; ".join(f"{k}: {', '.join(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _short(label: str) -> str:
    """A protocol file's name for narrow tables: the shipped name, or the file's name."""
    return label if label.endswith("(shipped)") else Path(label).name


def catalog_json(protocol: Protocol) -> str:
    rules = [{
        "id": s.id, "title": s.title, "template": s.template,
        "applies_to": {k: s.parameters[k] for k in SHAPE if k in s.parameters},
        "severity": s.severity.value, "enabled": s.enabled,
        "parameters": _jsonable({k: v for k, v in s.parameters.items()
                                 if k not in SHAPE and k in s.provenance}),
        "requirement": s.requirement_text(), "rationale": s.rationale, "source": s.source,
        "evidence": s.evidence, "provenance": dict(s.provenance),
    } for s in protocol.rules]
    doc = {"protocol": {"name": protocol.name, "version": protocol.version}, "rules": rules}
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "items"):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def catalog_table(protocol: Protocol, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"Protocol {protocol.name} {protocol.version}"), show_lines=True,
                  expand=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Requirement", ratio=3)
    table.add_column("Parameters (set in)", ratio=2)
    for s in protocol.rules:
        sev = s.severity.value + ("" if s.enabled else "\n(disabled)")
        params = "\n".join(f"{k} = {_value_text(v)}\n  ({_short(s.provenance.get(k, 'template default'))})"
                           for k, v in s.parameters.items()) or "—"
        table.add_row(Text(f"{s.id}\n({s.template})"), Text(sev), Text(s.requirement_text()),
                      Text(params))
    console.print(table)
    console.print(Text("Diagnosis map (ICD-10-CM prefix: modalities that fit it)", style="bold"))
    for line in diagnosis_map_lines(protocol):
        console.print(line, markup=False)


def diagnosis_map_lines(protocol: Protocol) -> list[str]:
    """``  F43.1: PE, CPT``: the diagnosis map as the terminal shows it, by prefix."""
    return [f"  {e.prefix}: {', '.join(e.modalities)}"
            for e in sorted(protocol.diagnoses.entries, key=lambda e: e.key)]


def evidence_text(text: str) -> str:
    """A rule's evidence as the catalog shows it: quoted words, or the clinic's reading."""
    if not text:
        return "(none given)"
    if text.strip().lower().startswith("clinic's reading"):
        return text
    return f"“{text}”"


def catalog_markdown(protocol: Protocol, scenarios: dict[str, list[str]]) -> str:
    lines = [f"# Protocol `{protocol.name}` {protocol.version}".rstrip(), ""]
    lines += [f"Protocol files, base first: {', '.join(f'`{f}`' for f in protocol.files)}.", ""]
    lines += ["| Rule | Template | Severity | Enabled | Requirement |", "|---|---|---|---|---|"]
    for s in protocol.rules:
        lines.append(f"| {s.id} | {s.template} | {s.severity.value} | "
                     f"{'yes' if s.enabled else 'no'} | "
                     f"{s.requirement_text().replace('|', '/')} |")
    lines.append("")
    for s in protocol.rules:
        lines += [f"## {s.id} — {s.title}", "",
                  f"**Requirement.** {s.requirement_text()}", "",
                  f"**Template:** `{s.template}`. "
                  f"**Severity:** {s.severity.value}{'' if s.enabled else ' (disabled)'}. "
                  f"**Anchor:** {s.anchor_text}.", "",
                  f"**Why.** {s.rationale}", "",
                  f"**Source.** {s.source}", "",
                  f"**Evidence.** {evidence_text(s.evidence)}", ""]
        if s.parameters:
            lines += ["| Parameter | Value | Set in |", "|---|---|---|"]
            for k, v in s.parameters.items():
                lines.append(f"| `{k}` | {_value_text(v)} | "
                             f"{s.provenance.get(k, 'template default')} |")
            lines.append("")
        specs = scenarios.get(s.id, [])
        if specs:
            lines += ["Specified by the scenarios:", ""] + [f"- {t}" for t in specs] + [""]
    lines += ["## Diagnosis map", "", "| ICD-10-CM prefix | Modalities | Set in |", "|---|---|---|"]
    for e in sorted(protocol.diagnoses.entries, key=lambda e: e.key):
        lines.append(f"| {e.prefix} | {', '.join(e.modalities)} | "
                     f"{protocol.diagnosis_provenance.get(e.key, '?')} |")
    return "\n".join(lines) + "\n"
