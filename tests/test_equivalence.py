"""The same clinic written as YAML, CSV (with rosters), iCalendar and FHIR R4 gives the
same findings, word for word: generated clinics across daylight-saving changes, each
with a weekly psychotherapy series that the calendar writes as one recurring event
(RRULE less an EXDATE) and the other formats as its expanded sessions."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import yaml

from kapcheck.protocol import Kind, Schedule, Session, load_schedule
from kapcheck.rules import validate

from .generate import build, protocol_variant
from .test_fhir import to_fhir

WEEK = timedelta(days=7)


def with_series(schedule: Schedule, rng: random.Random) -> tuple[Schedule, dict[str, Any]]:
    """The schedule plus a weekly series at 10:00 local time, starting two weeks before
    its first session (so it crosses the zone's clock change), less one week; and the
    series as a calendar writes it."""
    zone = schedule.timezone or "UTC"
    tz = ZoneInfo(zone)
    patient = rng.choice(schedule.patients).id
    clinician = rng.choice(schedule.clinicians).id
    first = min((s.start for s in schedule.sessions), default=datetime(2026, 3, 1,
                                                                      tzinfo=timezone.utc))
    local = (first.astimezone(tz) - 2 * WEEK).replace(hour=10, minute=0, second=0,
                                                      tzinfo=None)
    count, skipped = rng.choice([4, 6]), rng.randrange(1, 4)
    sessions = []
    for k in range(count):
        if k == skipped:
            continue
        start = (local + k * WEEK).replace(tzinfo=tz).astimezone(timezone.utc)
        sessions.append(Session(id=f"series@{start:%Y%m%dT%H%M%SZ}", patient=patient,
                                kind=Kind.PSYCHOTHERAPY, start=start,
                                end=start + timedelta(minutes=50), clinician=clinician,
                                modality="CBT", zone=zone))
    series = {"patient": patient, "clinician": clinician, "local": local, "zone": zone,
              "count": count, "skipped": local + skipped * WEEK}
    return attrs.evolve(schedule, sessions=schedule.sessions + tuple(sessions)), series


def _local(s: Session, attr: str) -> str:
    return getattr(s, attr).astimezone(ZoneInfo(s.zone or "UTC")).isoformat()


def to_yaml(schedule: Schedule) -> str:
    doc: dict[str, Any] = {
        "schema": "kapcheck/schedule@1", "timezone": schedule.timezone,
        "clinicians": [{"id": c.id, "roles": sorted(r.value for r in c.roles)}
                       for c in schedule.clinicians],
        "patients": [{"id": p.id, "diagnoses": list(p.diagnoses)} for p in schedule.patients],
        "sessions": []}
    for s in schedule.sessions:
        item: dict[str, Any] = {"id": s.id, "kind": s.kind.value,
                                "start": _local(s, "start"), "end": _local(s, "end")}
        item.update({"patients": list(s.patients)} if len(s.patients) > 1
                    else {"patient": s.patient})
        item.update({"clinicians": list(s.clinicians)} if len(s.clinicians) > 1
                    else {"clinician": s.clinician})
        if s.room is not None:
            item["room"] = s.room
        if s.modality:
            item["modality"] = s.modality
        if s.dose_mg is not None:
            item["dose_mg"] = str(s.dose_mg)
        doc["sessions"].append(item)
    return yaml.safe_dump(doc, sort_keys=False)


def to_csv(schedule: Schedule) -> tuple[str, str, str]:
    def table(header: list[str], rows: list[list[str]]) -> str:
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buf.getvalue()

    sessions = table(["id", "patients", "kind", "start", "end", "clinicians", "modality",
                      "dose_mg", "room"],
                     [[s.id, ";".join(s.patients), s.kind.value, _local(s, "start"),
                       _local(s, "end"), ";".join(s.clinicians), s.modality or "",
                       "" if s.dose_mg is None else str(s.dose_mg), s.room or ""]
                      for s in schedule.sessions])
    patients = table(["id", "diagnoses"], [[p.id, ";".join(p.diagnoses)]
                                           for p in schedule.patients])
    clinicians = table(["id", "roles"], [[c.id, " ".join(sorted(r.value for r in c.roles))]
                                         for c in schedule.clinicians])
    return sessions, patients, clinicians


def to_ics(schedule: Schedule, series: dict[str, Any]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//kapcheck tests//EN",
             f"X-WR-TIMEZONE:{schedule.timezone}"]
    for s in schedule.sessions:
        if s.id.startswith("series@"):
            continue
        lines += ["BEGIN:VEVENT", f"UID:{s.id}", f"DTSTART:{s.start:%Y%m%dT%H%M%SZ}",
                  f"DTEND:{s.end:%Y%m%dT%H%M%SZ}",
                  "CATEGORIES:" + ",".join([s.kind.value.upper()]
                                           + ([s.modality] if s.modality else [])),
                  f"X-KAPCHECK-PATIENT:{';'.join(s.patients)}",
                  f"ORGANIZER;CN={s.clinician}:mailto:{s.clinician}@clinic.example",
                  *[f"ATTENDEE;CN={cid}:mailto:{cid}@clinic.example"
                    for cid in s.clinicians[1:]],
                  *([f"LOCATION:{s.room}"] if s.room else [])]
        if s.dose_mg is not None:
            lines.append(f"X-KAPCHECK-DOSE-MG:{s.dose_mg}")
        lines.append("END:VEVENT")
    zone = series["zone"]
    lines += ["BEGIN:VEVENT", "UID:series",
              f"DTSTART;TZID={zone}:{series['local']:%Y%m%dT%H%M%S}", "DURATION:PT50M",
              f"RRULE:FREQ=WEEKLY;COUNT={series['count']}",
              f"EXDATE;TZID={zone}:{series['skipped']:%Y%m%dT%H%M%S}",
              "CATEGORIES:PSYCHOTHERAPY,CBT",
              f"ATTENDEE;ROLE=REQ-PARTICIPANT;CN={series['patient']}:mailto:p@patients.example",
              f"ORGANIZER;CN={series['clinician']}:mailto:c@clinic.example", "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n"


def findings(schedule: Schedule, protocol: Any) -> list[tuple[Any, ...]]:
    return [(f.rule, f.severity, f.patient, f.session, f.related, f.message, f.suggestion)
            for f in validate(schedule, protocol).findings]


def test_yaml_csv_icalendar_and_fhir_give_the_same_findings(tmp_path: Path) -> None:
    rng = random.Random(8)
    compared = 0
    for n in range(40):
        base = build(rng.choice)
        if not base.patients or not base.clinicians:
            continue
        schedule, series = with_series(base, rng)
        protocol = protocol_variant(rng.choice)
        expected = findings(schedule, protocol)
        folder = tmp_path / str(n)
        folder.mkdir()
        (folder / "clinic.yaml").write_text(to_yaml(schedule))
        sessions, patients, clinicians = to_csv(schedule)
        (folder / "sessions.csv").write_text(sessions)
        (folder / "patients.csv").write_text(patients)
        (folder / "clinicians.csv").write_text(clinicians)
        (folder / "clinic.ics").write_text(to_ics(schedule, series))
        (folder / "bundle.json").write_text(json.dumps(to_fhir(schedule)))
        forms = {
            "yaml": load_schedule(folder / "clinic.yaml"),
            "csv": load_schedule(folder / "sessions.csv", patients=folder / "patients.csv",
                                 clinicians=folder / "clinicians.csv",
                                 timezone=schedule.timezone),
            "ics": load_schedule(folder / "clinic.ics", patients=folder / "patients.csv",
                                 clinicians=folder / "clinicians.csv"),
            "fhir": load_schedule(folder / "bundle.json", timezone=schedule.timezone),
        }
        for form, loaded in forms.items():
            assert sorted(s.id for s in loaded.sessions) == sorted(s.id for s in
                                                                   schedule.sessions), form
            assert findings(loaded, protocol) == expected, (n, form)
        compared += 1
    assert compared >= 30
