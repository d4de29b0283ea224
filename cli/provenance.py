"""What ties a report to what it was made from: each input's SHA-256, the protocol's
fingerprint over its whole ``extends`` chain, kapcheck's version, the clinic and the
day waivers were judged on (``meta`` of every JSON report, the HTML report's footer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from kapcheck.protocol import Protocol
from kapcheck.rules import Report

SHIPPED = " (shipped)"
STDIN = ("-", "<stdin>")


def _bytes_of(path: str) -> bytes:
    """An input as kapcheck read it: a file, or a shipped protocol as kapcheck carries it."""
    if path.endswith(SHIPPED):
        item = resources.files("kapcheck.protocol") / "shipped" / f"{path[:-len(SHIPPED)]}.toml"
        return item.read_bytes()
    return Path(path).read_bytes()


def sha256_of(paths: Iterable[str],
              known: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Each input's SHA-256 (hex): as the loader read it (``known``, standard input
    included), else read again; or why it has none (a file gone since it was read)."""
    read = dict(known)
    out = []
    for path in paths:
        name = "<stdin>" if path == "-" else path
        if name in read:
            out.append((name, read[name]))
            continue
        if path in STDIN:
            out.append((path, "(standard input)"))
            continue
        if path.startswith("caldav+"):
            out.append((path, "(a CalDAV calendar)"))
            continue
        try:
            out.append((path, hashlib.sha256(_bytes_of(path)).hexdigest()))
        except OSError as exc:  # read once already; gone or changed since
            out.append((path, f"(could not be read again: {exc.strerror or exc})"))
    return out


def fingerprint(protocol: Protocol) -> str:
    """SHA-256 over every file of the protocol's ``extends`` chain, root first (each
    file's length and bytes): two runs with one fingerprint ran the same protocol."""
    digest = hashlib.sha256()
    for path in protocol.files:
        try:
            data = _bytes_of(path)
        except OSError:
            data = path.encode()
        digest.update(f"{len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def meta(report: Report, protocol: Protocol, inputs: Sequence[str], version: str,
         known: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The ``meta`` object of a JSON report; ``known`` the digests the loader took."""
    return {
        "kapcheck": version,
        "protocol": {"name": protocol.name, "version": protocol.version,
                     "fingerprint": fingerprint(protocol)},
        "inputs": [{"name": name, "sha256": digest}
                   for name, digest in sha256_of(inputs, known)],
        "clinic": report.clinic,
        "as_of": (report.as_of or date.today()).isoformat(),
    }
