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
    #: Its ``meta`` (clinic, protocol, inputs), None for a report written before meta.
    meta: dict[str, Any] | None = None

    def differs(self, clinic: str | None, protocol: str) -> str | None:
        """Why this baseline is not an earlier report of the same clinic and protocol
        (None when it is)."""
        if self.meta is None:
            return ("has no meta (it was written by an older kapcheck), so its clinic and "
                    "protocol cannot be checked")
        theirs = self.meta.get("protocol")
        name = theirs.get("name") if isinstance(theirs, dict) else None
        if self.meta.get("clinic") != clinic:
            return (f"is a report of clinic {shown(self.meta.get('clinic'))}; this run's "
                    f"clinic is {shown(clinic)}")
        if name != protocol:
            return (f"is a report of protocol {shown(name)}; this run's protocol is "
                    f"{shown(protocol)}")
        return None

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
    meta = doc.get("meta")
    if meta is not None and not isinstance(meta, dict):
        problems.add("meta", "expected the meta object of a kapcheck JSON report")
    if problems:
        raise ScheduleError(problems.items)
    return Baseline(tuple(kept), meta if isinstance(meta, dict) else None)
