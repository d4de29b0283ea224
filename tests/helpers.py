"""Small builders for tests: schedule documents as text, run through the real loader."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

ROSTER = {
    "schema": "kapcheck/schedule@1",
    "clinic": "Test Clinic",
    "timezone": "America/New_York",
    "clinicians": [
        {"id": "dr-lee", "roles": ["prescriber"]},
        {"id": "rn-patel", "roles": ["nurse"]},
        {"id": "t-ortiz", "roles": ["therapist"]},
        {"id": "t-nguyen", "roles": ["therapist"]},
    ],
    "patients": [{"id": "P-001", "diagnoses": ["F33.2"]}],
}


def document(sessions: list[dict], **top: object) -> dict:
    doc = {**ROSTER, **top}
    doc["sessions"] = sessions
    return doc


def write(tmp_path: Path, doc: dict | str, name: str = "schedule.yaml") -> Path:
    path = tmp_path / name
    if isinstance(doc, str):
        path.write_text(textwrap.dedent(doc), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def compliant_course() -> list[dict]:
    """A course that keeps every rule of the default protocol."""
    return [
        {"id": "S-1", "patient": "P-001", "kind": "assessment", "start": "2026-03-01T09:00",
         "duration": "1h", "clinician": "dr-lee"},
        {"id": "S-2", "patient": "P-001", "kind": "preparation", "start": "2026-03-02T09:00",
         "duration": "1h", "clinician": "t-ortiz"},
        {"id": "S-3", "patient": "P-001", "kind": "dosing", "route": "IV",
         "start": "2026-03-04T10:00", "duration": "2h", "clinician": "dr-lee"},
        {"id": "S-4", "patient": "P-001", "kind": "integration", "modality": "CBT",
         "start": "2026-03-05T10:00", "duration": "50m", "clinician": "t-ortiz"},
    ]
