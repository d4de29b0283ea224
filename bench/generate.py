"""A deterministic synthetic clinic network for benchmarks.

Patients follow courses of 4 to 8 doses with assessment, preparation, integration and
psychotherapy around them; clinicians are shared across patients; a few percent of
sessions carry a realistic mistake (an integration never booked, a dose cut short, a
dose too soon after the last, the wrong modality or clinician, a double booking).

    python bench/generate.py SESSIONS OUT.json [--seed N] [--shape even|varied]

``even`` (the default) repeats a few course shapes on a half-hour grid with one clinician
per 12 to 15 patients. ``varied`` is shaped as real networks vary: three times the
clinicians, part-time ones among them; courses of 1 to 12 doses at irregular gaps;
sessions on a five-minute grid; starts spread over a year; comorbid diagnosis sets from
a wider pool of codes; some patients in psychotherapy alone. ``groups`` is ``even`` with
SPEC §11's groups: a tenth of the sessions are group sessions (a preparation, integration
or psychotherapy session that two to four neighbouring patients share, a third of them
run by two co-therapists), and every dose is booked into one of the network's rooms.
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta
from pathlib import Path

import orjson

ZONE = "America/New_York"
DIAGNOSES = [["F33.2"]] * 8 + [["F32.1"]] * 5 + [["F43.10"]] * 5 + [["F41.1"]] * 3 + \
    [["F33.1", "F43.10"]] * 2 + [["F90.0"]]
MODALITIES = {"F33": ["CBT", "PDT"], "F32": ["CBT", "PDT"], "F43": ["PE", "CPT"],
              "F41": ["CBT"], "F90": ["CBT"]}


class Calendar:
    """Books clinicians into 30-minute slots so that only planted mistakes overlap."""

    def __init__(self, clinicians: dict[str, list[str]], rng: random.Random) -> None:
        self.by_role = clinicians
        self.busy: dict[str, set[int]] = {}
        self.rng = rng

    def book(self, role: str, start: datetime, minutes: int) -> str:
        slots = range(int(start.timestamp()) // 1800, -(-int(start.timestamp() + minutes * 60) // 1800))
        pool = self.by_role[role]
        first = self.rng.randrange(len(pool))
        for k in range(len(pool)):  # from a random clinician on, the first one free
            who = pool[(first + k) % len(pool)]
            taken = self.busy.setdefault(who, set())
            if not taken.intersection(slots):
                taken.update(slots)
                return who
        return self.rng.choice(pool)  # everyone is busy: a real-world double booking


#: Codes a varied network's comorbid diagnosis sets are drawn from.
MORE_CODES = ["F33.0", "F33.1", "F33.2", "F33.3", "F32.0", "F32.1", "F32.2", "F32.9", "F43.10",
              "F43.12", "F41.1", "F41.0", "F90.0", "F10.20", "F17.210", "G47.00", "F40.10",
              "F42.2", "F50.00", "Z91.19"]


def network(sessions: int, seed: int = 2026, shape: str = "even") -> dict:
    rng = random.Random(seed)
    varied = shape == "varied"
    patients_needed = max(1, sessions // 15)
    spread = 3 if varied else 1
    per_role = {"prescriber": max(2, spread * patients_needed // 15),
                "nurse": max(2, spread * patients_needed // 15),
                "therapist": max(3, spread * patients_needed // 12)}
    clinicians = {role: [f"{role[:2]}-{i:04d}" for i in range(n)] for role, n in per_role.items()}
    roster = [{"id": cid, "roles": [role]} for role, ids in clinicians.items() for cid in ids]
    calendar = Calendar(clinicians, rng)
    groups = shape == "groups"
    rooms = Calendar({"room": [f"Room {i:03d}" for i in range(per_role["prescriber"] * 2)]},
                     random.Random(seed + 1))
    start_day = datetime(2027, 1, 4)
    patients, out = [], []
    serial = 0

    def add(pid: str, kind: str, when: datetime, minutes: int, role: str,
            modality: str | None = None, mistake: bool = False) -> None:
        nonlocal serial
        serial += 1
        clinician = calendar.book(role, when, minutes)
        if mistake and kind == "dosing" and rng.random() < 0.3:
            clinician = rng.choice(clinicians["therapist"])  # wrong role
        item = {"id": f"S{serial:07d}", "patient": pid, "kind": kind,
                "start": when.strftime("%Y-%m-%dT%H:%M"), "duration": f"{minutes}m",
                "clinician": clinician}
        if kind == "dosing":
            item["route"] = rng.choice(["IV", "IM", "SL"])
            if groups:
                item["room"] = rooms.book("room", when, minutes)
        if modality:
            item["modality"] = modality
        out.append(item)

    minutes = range(0, 60, 5) if varied else [0, 30]
    p = 0
    while len(out) < sessions:
        p += 1
        pid = f"P{p:06d}"
        codes = rng.choice(DIAGNOSES)
        allowed = MODALITIES[codes[0][:3]]
        if varied and rng.random() < 0.4:
            codes = sorted({codes[0], *rng.sample(MORE_CODES, rng.randrange(1, 5))})
        patients.append({"id": pid, "diagnoses": codes})
        day0 = start_day + timedelta(days=rng.randrange(0, 365 if varied else 60))
        slot = lambda d, h: d.replace(hour=h, minute=rng.choice(minutes))  # noqa: E731
        if varied and rng.random() < 0.1:  # psychotherapy alone, weekly for months
            for week in range(rng.randrange(4, 30)):
                add(pid, "psychotherapy", slot(day0 + timedelta(days=7 * week + rng.randrange(3)),
                                               rng.randrange(8, 18)),
                    rng.choice([45, 50, 60]), "therapist", rng.choice(allowed))
            continue
        add(pid, "assessment", slot(day0, rng.randrange(8, 16)), 60, "prescriber")
        for k in range(rng.choice([1, 1, 2])):
            add(pid, "preparation", slot(day0 + timedelta(days=2 + 2 * k), rng.randrange(8, 16)),
                60, "therapist", rng.choice(allowed))
        first_dose = day0 + timedelta(days=7)
        dose_hour = rng.randrange(8, 12)
        dose_day = first_dose
        doses = rng.randrange(1, 13) if varied else rng.choice([4, 5, 6, 6, 6, 8])
        for n in range(doses):
            mistake = rng.random() < 0.03
            if varied:
                dose_hour = rng.randrange(8, 15)
            if n:
                gap = rng.choice([2, 3, 3, 4, 5, 7, 14]) if varied else rng.choice([3, 3, 4])
                if mistake and rng.random() < 0.3:
                    gap = 1  # too soon after the last dose
                dose_day += timedelta(days=gap)
            length = 90 if mistake and rng.random() < 0.3 else rng.choice([120, 120, 150])
            when = dose_day.replace(hour=dose_hour, minute=rng.choice(minutes) if varied else 0)
            add(pid, "dosing", when, length, rng.choice(["prescriber", "nurse"]), mistake=mistake)
            if not (mistake and rng.random() < 0.4):
                later = when + timedelta(days=1, hours=rng.randrange(0, 3),
                                         minutes=rng.choice(minutes) if varied else 0)
                modality = rng.choice(allowed) if not (mistake and rng.random() < 0.3) else "EMDR"
                add(pid, "integration", later, 50, "therapist", modality)
        for offset in rng.sample(range(30), rng.randrange(2, 5)):
            day = first_dose + timedelta(days=offset)
            add(pid, "psychotherapy", slot(day, rng.randrange(15, 18)), 50, "therapist",
                rng.choice(allowed))
    if groups:
        _group(out, patients, calendar, random.Random(seed + 2))
    return {"schema": "kapcheck/schedule@1", "clinic": f"Synthetic network ({sessions} sessions)",
            "timezone": ZONE, "clinicians": roster, "patients": patients, "sessions": out}


def _group(sessions: list[dict], patients: list[dict], calendar: Calendar,
           rng: random.Random) -> None:
    """A tenth of the sessions become group sessions: therapy sessions that the patient
    shares with one to three neighbouring patients (a third with a co-therapist)."""
    therapy = [s for s in sessions if s["kind"] in ("preparation", "integration",
                                                     "psychotherapy")]
    wanted = len(sessions) // 10
    ids = [p["id"] for p in patients]
    index = {pid: i for i, pid in enumerate(ids)}
    for s in rng.sample(therapy, min(wanted, len(therapy))):
        i = index[s["patient"]]
        others = [ids[j] for j in range(max(0, i - 3), min(len(ids), i + 4)) if j != i]
        s["patients"] = [s.pop("patient"), *rng.sample(others, min(len(others),
                                                                   rng.randrange(1, 4)))]
        if rng.random() < 1 / 3:  # a co-therapist free then, as a clinic books one
            when = datetime.fromisoformat(s["start"])
            other = calendar.book("therapist", when, int(s["duration"].rstrip("m")))
            if other != s["clinician"]:
                s["clinicians"] = [s.pop("clinician"), other]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sessions", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--shape", choices=["even", "varied", "groups"], default="even")
    args = parser.parse_args()
    args.out.write_bytes(orjson.dumps(network(args.sessions, args.seed, args.shape)))


if __name__ == "__main__":
    main()
