"""CSV files: kapcheck's own sessions CSV and roster CSVs, and a practice system's
export read through the mapping file's ``[csv]`` headers (each row an Entry for the
mapping step).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .errors import Problems, Where
from .limits import MAX_TEXT_CHARS, shown
from .mapping import Entry, ExportMapping, check_csv_header
from .reading import (
    CSV_CLINICIAN_COLUMNS,
    CSV_PATIENT_COLUMNS,
    CSV_SESSION_COLUMNS,
    _add_session,
    _clinician,
    _patient,
    _Pending,
    _Placed,
    _Raw,
    _Reader,
)

# --- CSV -----------------------------------------------------------------------------


def _csv_table(data: bytes, problems: Problems) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """A CSV file's header and its rows (line number, cells by header, blanks left out);
    problems for text that is not UTF-8 or not CSV, a header named twice, a short row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add("", f"is not UTF-8 text (byte {exc.start})")
        return [], []
    if not text.strip():
        problems.add("", "the file is empty; expected a header row and rows")
        return [], []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except (csv.Error, StopIteration) as exc:
        problems.add("line 1", f"is not a CSV header: {exc}")
        return [], []
    if len(set(header)) != len(header):
        problems.add("line 1", "a column is named twice")
        return header, []
    rows = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.add(f"line {line}", f"has {len(row)} cells; the header has {len(header)}")
                continue
            rows.append((line, {k: v.strip() for k, v in zip(header, row, strict=True) if v.strip()}))
    except csv.Error as exc:
        problems.add(f"line {reader.line_num}", f"is not valid CSV: {exc}")
    return header, rows


def _csv_rows(data: bytes, columns: Sequence[str], problems: Problems,
              required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """kapcheck's own CSV: its rows, once its header names only kapcheck's columns."""
    before = len(problems.items)
    header, rows = _csv_table(data, problems)
    if len(problems.items) != before and not rows:
        return []
    for name in header:
        if name not in columns:
            problems.add(f"line 1, column {shown(name)}", f"unknown column; expected {', '.join(columns)}")
    for name in required:
        # "patient" is given as it is, or as "patients" (ids between ";"): one of them.
        if name not in header and (name + "s" not in header or name + "s" not in columns):
            problems.add("line 1", f"the column {name!r} is missing")
    for name in ("patient", "clinician"):
        if name in header and name + "s" in header and name + "s" in columns:
            problems.add("line 1", f"give either the column {name!r} or {name + 's'!r}, "
                                   "not both")
    return [] if problems else rows


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    """A sessions row with its ``patients`` and ``clinicians`` cells as lists (ids between
    ";"; an empty id is kept, for the reader to name)."""
    for key in ("patients", "clinicians"):
        if key in row:
            row[key] = [part.strip() for part in row[key].split(";")]
    return row


def _read_csv_export(data: bytes, file: str, problems: Problems, mapping: ExportMapping,
                     tz: ZoneInfo | None, mapping_problems: Problems) -> _Pending:
    """A practice system's CSV export, read through the mapping's ``[csv]`` headers:
    each row an Entry for the mapping step; rows whose status matches ``cancelled`` are
    not sessions; columns the mapping does not name are ignored."""
    raw = _Raw(timezone=tz.key if tz else None)
    pending = _Pending(file, problems, raw, [], tz)
    header, rows = _csv_table(data, problems)
    before = len(mapping_problems.items)
    check_csv_header(mapping, header, problems, mapping_problems)
    if len(mapping_problems.items) != before:
        return pending
    col = mapping.csv
    r = _Reader(problems, naive_hint="the mapping names no timezone: give it `timezone = "
                                     "\"America/New_York\"` or pass --timezone")
    for line, row in rows:
        where = f"line {line}"
        if mapping.cancelled is not None and mapping.cancelled.search(
                row.get(col["status"], "")[:MAX_TEXT_CHARS]):
            continue
        given = {key: row[col[key]] for key in ("patient", "clinician", "kind", "modality",
                                                "route", "dose_mg", "room")
                 if key in col and row.get(col[key])}
        times: dict[str, Any] = {}
        start = _export_time(r, row.get(col["start"]), mapping.start_format, tz,
                             (where, col["start"]), "csv.start_format")
        if start is not None:
            times["start"] = start.isoformat()
        if "end" in col:
            end = _export_time(r, row.get(col["end"]), mapping.end_format or mapping.start_format,
                               tz, (where, col["end"]), "csv.end_format")
            if end is not None:
                times["end"] = end.isoformat()
        elif "duration" in col and row.get(col["duration"]):
            length = row[col["duration"]]
            times["duration"] = f"{length}m" if length.isdecimal() else length
        code = row.get(col["code"]) if "code" in col else None
        pending.entries.append(Entry(
            id=row.get(col["id"], "") if "id" in col else f"line-{line}", where=where,
            summary=row.get(col["summary"]) if "summary" in col else None,
            codes=(code,) if code else (), given=given, times=times, cells=row))
    r.finish()
    return pending


def _export_time(r: _Reader, text: str | None, fmt: str | None, tz: ZoneInfo | None,
                 where: Where, fmt_key: str) -> datetime | None:
    """A CSV export's date and time: in ``fmt`` (strftime) if the mapping gives one,
    else ISO 8601; a time without an offset is read in ``tz``."""
    if not text:
        r.problems.add(where, "is required")
        return None
    if fmt is None:
        return r.instant(text, where, tz)
    try:
        parsed = datetime.strptime(text, fmt)
    except ValueError:
        r.problems.add(where, f"expected a date and time as {fmt!r} ({fmt_key}), "
                              f"got {shown(text)}")
        return None
    return r.instant(parsed.isoformat() if parsed.tzinfo is None else parsed.isoformat(),
                     where, tz)


def _split(cell: str | None) -> list[str]:
    return [part for part in re.split(r"[;,\s]+", cell or "") if part]


def _read_csv_sessions(data: bytes, file: str, problems: Problems, tz: ZoneInfo | None) -> _Raw:
    raw = _Raw(timezone=tz.key if tz else None)
    r = _Reader(problems, naive_hint="a CSV file names no timezone: pass --timezone (such as "
                                     "--timezone America/New_York), or validate it together "
                                     "with a schedule document that has `timezone:`")
    for line, row in _csv_rows(data, CSV_SESSION_COLUMNS, problems,
                               ("id", "patient", "kind", "start", "clinician")):
        _add_session(raw, r, _listed(row), file, f"line {line}", tz)
    r.finish()
    return raw


def _read_csv_roster(data: bytes, file: str, problems: Problems, what: str) -> _Raw:
    raw = _Raw()
    r = _Reader(problems)
    if what == "patients":
        for line, row in _csv_rows(data, CSV_PATIENT_COLUMNS, problems, ("id",)):
            item: dict[str, Any] = {"id": row.get("id"),
                                    "diagnoses": _split(row.get("diagnoses"))}
            if row.get("records"):
                item["records"] = dict(part.partition("=")[::2] for part in
                                       row["records"].split(";") if part.strip())
                item["records"] = {k.strip(): v.strip() for k, v in item["records"].items()}
            if (p := _patient(r, item, f"line {line}")) is not None:
                raw.patients.append(_Placed(p, file, f"line {line}"))
    else:
        for line, row in _csv_rows(data, CSV_CLINICIAN_COLUMNS, problems, ("id",)):
            item = {"id": row.get("id"), "roles": _split(row.get("roles"))}
            if (c := _clinician(r, item, f"line {line}")) is not None:
                raw.clinicians.append(_Placed(c, file, f"line {line}"))
    return raw


