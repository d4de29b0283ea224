"""Earlier JSON reports as baselines: which findings a run introduces and resolves.

A baseline is a report kapcheck wrote with ``--format json``. A finding's identity is
(rule, patient, session, related sessions); a report written before ``related`` existed
counts its findings as relating to none.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from kapcheck.protocol import ScheduleError
from kapcheck.protocol.documents import parse_structured, read_bytes
from kapcheck.protocol.errors import Problems
from kapcheck.protocol.limits import shown

from .checker import Identity, identity
from .report import Finding

#: A baseline report is read whole; kapcheck's own reports stay far below this.
MAX_BASELINE_BYTES = 256 * 1024 * 1024


@frozen
class Baseline:
    #: The earlier report's findings, as it wrote them (plain JSON objects).
    findings: tuple[dict[str, Any], ...]

    def identities(self) -> set[Identity]:
        return {_identity(f) for f in self.findings}

    def compare(self, findings: Sequence[Finding]) -> tuple[list[Finding], list[dict[str, Any]]]:
        """(introduced, resolved): current findings the baseline lacks, and baseline
        findings the current run no longer has."""
        old = self.identities()
        new = {identity(f) for f in findings}
        return ([f for f in findings if identity(f) not in old],
                [f for f in self.findings if _identity(f) not in new])


def _identity(f: dict[str, Any]) -> Identity:
    return (f["rule"], f["patient"], f["session"], tuple(sorted(f.get("related") or ())))


def load_baseline(source: str | Path, stdin: Any = None) -> Baseline:
    """An earlier JSON report; ScheduleError naming every problem with its place."""
    name = "<stdin>" if str(source) == "-" else str(source)
    problems = Problems(name)
    data = read_bytes(source, problems, stdin, limit=MAX_BASELINE_BYTES)
    doc = parse_structured(data, "json", problems) if data is not None else None
    if doc is None:
        raise ScheduleError(problems.items)
    items = doc.get("findings") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        problems.add("findings", "expected the list of findings of a kapcheck JSON report")
        raise ScheduleError(problems.items)
    kept = []
    for i, f in enumerate(items):
        path = f"findings[{i}]"
        if not isinstance(f, dict):
            problems.add(path, "expected a finding (an object)")
            continue
        ok = True
        for key, optional in (("rule", False), ("patient", True), ("session", True)):
            value = f.get(key)
            if not (isinstance(value, str) and len(value) <= 200) and not (
                    optional and value is None):
                problems.add(f"{path}.{key}", f"expected text, got {shown(value)}")
                ok = False
        related = f.get("related", [])
        if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
            problems.add(f"{path}.related", f"expected a list of session ids, got {shown(related)}")
            ok = False
        if ok:
            kept.append({k: f.get(k) for k in ("rule", "severity", "patient", "session",
                                                "related", "message", "suggestion", "waiver")})
    if problems:
        raise ScheduleError(problems.items)
    return Baseline(tuple(kept))
