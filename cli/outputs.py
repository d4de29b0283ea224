"""Answers in the shapes people file: SARIF 2.1.0 for pipelines and code-scanning views,
CSV and XLSX for the people who live in spreadsheets.

- SARIF: one ``result`` per finding (``ruleId``, ``level`` error or warning, ``note``
  for a waived one, with its suppression), located at the finding's source file and
  line where the input gives a line; every rule of the protocol in
  ``tool.driver.rules`` with its title, requirement and a help URI into the catalog.
- CSV: one row per finding: rule, severity, patient, session, start in local time,
  message, suggestion, waived, source.
- XLSX (openpyxl): the same rows on a Findings sheet, and a Summary sheet with a row per
  rule (its title, severity and counts).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from kapcheck.protocol import Protocol
from kapcheck.protocol.times import local_text
from kapcheck.rules import Finding, Report

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: Where the rule catalog is published; a help URI is this, the protocol and the rule's
#: anchor (KAPCHECK_DOCS_URL sets it for a clinic's own site).
DOCS_URL = os.environ.get("KAPCHECK_DOCS_URL", "https://kapcheck.readthedocs.io/en/latest/")
COLUMNS = ("rule", "severity", "patient", "session", "start", "message", "suggestion",
           "waived", "source")

ZoneOf = Callable[[Finding], str | None]

#: A finding's source as the readers write it: ``file:line: path``, ``file: VEVENT x
#: (line 12)``, ``file: line 5``, else ``file: path``.
_LINE_FIRST = re.compile(r"^(?P<file>.+?):(?P<line>\d+): ")
_LINE_IN = re.compile(r"^(?P<file>.+?): (?:.*\(line (?P<a>\d+)\)|line (?P<b>\d+))")
_FILE = re.compile(r"^(?P<file>.+?): ")


def located(source: str | None) -> tuple[str | None, int | None]:
    """(file, line) of a finding's source, as far as it says."""
    if not source:
        return None, None
    if (m := _LINE_FIRST.match(source)) is not None:
        return m.group("file"), int(m.group("line"))
    if (m := _LINE_IN.match(source)) is not None:
        return m.group("file"), int(m.group("a") or m.group("b"))
    if (m := _FILE.match(source)) is not None:
        return m.group("file"), None
    return source, None


def help_uri(protocol: Protocol, rule_id: str) -> str:
    return f"{DOCS_URL}rules/{protocol.name}/#{rule_id.lower()}"


def sarif(report: Report, protocol: Protocol, version: str) -> dict[str, Any]:
    rules = [r for r in protocol.rules]
    index = {r.id: n for n, r in enumerate(rules)}
    driver: dict[str, Any] = {
        "name": "kapcheck", "version": version, "semanticVersion": version,
        "informationUri": DOCS_URL,
        "rules": [{
            "id": r.id, "name": _name(r.title),
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": r.requirement_text()},
            "help": {"text": f"{r.requirement_text()}\n\nWhy: {r.rationale}\n\nSource: {r.source}"
                     if r.rationale or r.source else r.requirement_text()},
            "helpUri": help_uri(protocol, r.id),
            "defaultConfiguration": {"level": r.severity.value, "enabled": r.enabled},
            "properties": {"template": r.template},
        } for r in rules],
    }
    results = []
    for f in report.findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "level": "note" if f.waived else f.severity.value,
            "message": {"text": f"{f.message} {f.suggestion}".strip()},
            "properties": {"patient": f.patient, "session": f.session,
                           "related": list(f.related), "severity": f.severity.value},
        }
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        file, line = located(f.source)
        if file is not None:
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(file)}}
            if line is not None:
                physical["region"] = {"startLine": line}
            location: dict[str, Any] = {"physicalLocation": physical}
            if f.session:
                location["logicalLocations"] = [{"name": f.session, "kind": "object"}]
            result["locations"] = [location]
        if f.waiver is not None:
            result["suppressions"] = [{
                "kind": "external", "status": "accepted",
                "justification": f"{f.waiver.reason} (approved by {f.waiver.approved_by})"}]
        results.append(result)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0",
            "runs": [{"tool": {"driver": driver}, "results": results,
                      "columnKind": "unicodeCodePoints"}]}


def _name(title: str) -> str:
    """A SARIF rule name: the title in PascalCase, letters and digits only."""
    return "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", title)) or "Rule"


def _uri(file: str) -> str:
    """A relative or absolute URI reference for a file name as the user gave it."""
    from urllib.parse import quote

    if file.startswith(("caldav+", "<")):
        return quote(file, safe=":/+<>")
    return quote(file.replace(os.sep, "/"), safe="/:")


def rows(report: Report, zone_of: ZoneOf) -> list[list[str]]:
    """The findings as spreadsheet rows (after a header of COLUMNS)."""
    out = []
    for f in report.findings:
        start = local_text(f.start, zone_of(f)) if f.start is not None else ""
        out.append([f.rule, f.severity.value, f.patient or "", f.session or "", start,
                    f.message, f.suggestion, "yes" if f.waived else "no", f.source or ""])
    return out


def to_csv(report: Report, zone_of: ZoneOf) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([_cell(v) for v in row] for row in rows(report, zone_of))
    return out.getvalue()


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula (=, +, -, @)
    is quoted with an apostrophe (CSV injection), as OWASP advises."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_xlsx(report: Report, protocol: Protocol, zone_of: ZoneOf) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Findings"
    sheet.append(list(COLUMNS))
    for row in rows(report, zone_of):
        sheet.append([_xml_safe(v) for v in row])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for column, width in zip("ABCDEFGHI", (14, 9, 12, 16, 22, 70, 60, 8, 40), strict=True):
        sheet.column_dimensions[column].width = width
    summary = book.create_sheet("Summary")
    summary.append(["rule", "title", "severity", "enabled", "findings", "unwaived", "waived"])
    for r in protocol.rules:
        mine = [f for f in report.findings if f.rule == r.id]
        waived = sum(1 for f in mine if f.waived)
        summary.append([r.id, _xml_safe(r.title), r.severity.value,
                        "yes" if r.enabled else "no", len(mine), len(mine) - waived, waived])
    others = sorted({f.rule for f in report.findings} - {r.id for r in protocol.rules})
    for rule_id in others:  # WAIVER-001
        mine = [f for f in report.findings if f.rule == rule_id]
        summary.append([rule_id, "A waiver that documents nothing", "warning", "yes",
                        len(mine), len(mine), 0])
    for cell in summary[1]:
        cell.font = Font(bold=True)
    summary.freeze_panes = "A2"
    moment = datetime.combine(report.as_of, datetime.min.time()) if report.as_of else \
        datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    book.properties.creator = "kapcheck"
    book.properties.created = book.properties.modified = moment
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(value: Any) -> Any:
    """A spreadsheet cell's text without the characters XML cannot hold, and not read
    as a formula."""
    if not isinstance(value, str):
        return value
    return _cell(_NOT_XML.sub("\ufffd", value))
