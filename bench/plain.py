"""A plain-Python checker of the default kap protocol, written from the contract alone.

It shares nothing with kapcheck: it reads the schedule's JSON with the standard
library, turns times into UTC epoch seconds with zoneinfo, and checks the twelve rules
with their default parameters by direct loops (a group session counts for each of its
patients, a session of co-therapists is each one's booking, rooms hold one session at a
time: SPEC §11). It is what "speed relative to a plain
checker" in bench/README.md is relative to. It reads only what the benchmark network
holds (naive or offset times, ``end`` or a ``duration`` of hours and minutes, no
waivers) and prints the findings' keys as sorted JSON.

    python bench/plain.py NETWORK.json
"""

from __future__ import annotations

import bisect
import json
import re
import sys
from collections import defaultdict
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

H, D = 3600, 86400
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?$")
ROLES = {"dosing": {"prescriber", "nurse"}, "preparation": {"therapist"},
         "integration": {"therapist"}, "psychotherapy": {"therapist"}}
DIAGNOSES = {"F32": {"CBT", "PDT"}, "F33": {"CBT", "PDT"}, "F431": {"PE", "CPT"},
             "F411": {"CBT"}}


def instant(text: str, zone: ZoneInfo, cache: dict[str, int]) -> int:
    seconds = cache.get(text)
    if seconds is None:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        seconds = cache[text] = int(value.astimezone(timezone.utc).timestamp())
    return seconds


def length(text: str) -> int:
    hours, minutes = DURATION.match(text).groups()  # type: ignore[union-attr]
    return int(hours or 0) * H + int(minutes or 0) * 60


def overlaps(items: list[tuple[int, str, int]]) -> list[str]:
    """Ids of sessions that start before an earlier-ordered one ends."""
    out, latest = [], None
    for start, sid, end in sorted(items):
        if latest is not None and start < latest:
            out.append(sid)
        latest = end if latest is None else max(latest, end)
    return out


def check(doc: dict) -> list[list[object]]:
    zone = ZoneInfo(doc.get("timezone") or "UTC")
    cache: dict[str, int] = {}
    roles = {c["id"]: set(c.get("roles", ())) for c in doc["clinicians"]}
    codes = {p["id"]: [c.replace(".", "").upper() for c in p.get("diagnoses", ())]
             for p in doc["patients"]}
    by_patient: dict[str, list[tuple]] = defaultdict(list)
    by_clinician: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    by_room: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    patients_of: dict[str, list[str]] = {}
    for s in doc["sessions"]:
        start = instant(s["start"], zone, cache)
        end = instant(s["end"], zone, cache) if "end" in s else start + length(s["duration"])
        people = s.get("patients") or [s["patient"]]
        team = s.get("clinicians") or [s["clinician"]]
        patients_of[s["id"]] = people
        for pid in people:
            by_patient[pid].append((start, s["id"], end, s["kind"], tuple(team),
                                    (s.get("modality") or "").upper()))
        for cid in team:
            by_clinician[cid].append((start, s["id"], end))
        if s.get("room") is not None:
            by_room[s["room"]].append((start, s["id"], end))
    out: list[list[object]] = []

    def add(rule: str, severity: str, patient: str, session: str) -> None:
        out.append([rule, severity, patient, session])

    for pid, sessions in by_patient.items():
        sessions.sort()
        doses = [s for s in sessions if s[3] == "dosing"]
        allowed = {m for code in codes[pid] for prefix, mods in DIAGNOSES.items()
                   if code.startswith(prefix) for m in mods}
        covered = any(code.startswith(prefix) for code in codes[pid] for prefix in DIAGNOSES)
        if doses:
            first = doses[0]
            if not any(s[3] == "preparation" and s[2] <= first[0] and s[0] >= first[0] - 30 * D
                       for s in sessions):
                add("KAP-PREP-001", "error", pid, first[1])
            if not any(s[3] == "assessment" and s[2] <= first[0] and s[0] >= first[0] - 14 * D
                       for s in sessions):
                add("KAP-ASMT-001", "warning", pid, first[1])
            if not covered:
                add("KAP-DX-001", "error", pid, first[1])
        integrations = [s[0] for s in sessions if s[3] == "integration"]
        starts = [d[0] for d in doses]
        for i, d in enumerate(doses):
            k = bisect.bisect_left(integrations, d[2])
            if k == len(integrations) or integrations[k] > d[2] + 72 * H:
                add("KAP-INT-001", "error", pid, d[1])
            if i and d[0] - doses[i - 1][0] < 48 * H:
                add("KAP-DOSE-001", "error", pid, d[1])
            in_span = bisect.bisect_right(starts, d[0]) - bisect.bisect_right(starts, d[0] - 21 * D)
            if in_span > 6:
                add("KAP-DOSE-002", "warning", pid, d[1])
            if d[2] - d[0] < 120 * 60:
                add("KAP-MON-001", "error", pid, d[1])
        for s in sessions:
            if s[3] in ("psychotherapy", "integration") and s[5] not in allowed:
                add("KAP-MOD-001", "error", pid, s[1])
            if s[3] in ROLES and not any(roles[c] & ROLES[s[3]] for c in s[4]):
                add("KAP-ROLE-001", "error", pid, s[1])
        for sid in overlaps([(s[0], s[1], s[2]) for s in sessions]):
            add("KAP-OVL-001", "error", pid, sid)
    doubled: set[str] = set()  # co-therapists' double bookings: one finding per patient
    for items in by_clinician.values():
        doubled.update(overlaps(items))
    for sid in doubled:
        for pid in patients_of[sid]:
            add("KAP-CLIN-001", "error", pid, sid)
    for items in by_room.values():
        for sid in overlaps(items):
            for pid in patients_of[sid]:
                add("KAP-ROOM-001", "warning", pid, sid)
    return sorted(out, key=lambda k: [str(x) for x in k])


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        document = json.load(f)
    json.dump(check(document), sys.stdout)
