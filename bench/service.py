"""Latency of `kapcheck serve` over real HTTP on loopback: a one-patient proposal, a CDS
Hooks appointment-book call for a patient with 50 booked appointments, and a 10k-session
validate, median and 99th percentile.

    python bench/service.py [--count 200]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import compliant_course, document  # noqa: E402


def hook_call(booked: int) -> dict:
    """An appointment-book call for one patient with ``booked`` appointments (a course of
    weekly dose and integration pairs), proposing one more dose."""
    def appointment(aid: str, kind: str, start: str, end: str, status: str = "booked") -> dict:
        who = "prac-lee" if kind == "dosing" else "prac-ortiz"
        return {"resourceType": "Appointment", "id": aid, "status": status,
                "appointmentType": {"coding": [{"code": kind}]},
                "serviceType": [{"text": "CBT"}] if kind != "dosing" else [],
                "start": start, "end": end,
                "participant": [{"actor": {"reference": "Patient/p1"}},
                                {"actor": {"reference": f"Practitioner/{who}"}}]}
    from datetime import datetime, timedelta, timezone
    first = datetime(2026, 1, 5, 15, tzinfo=timezone.utc)
    appts = [appointment("prep", "preparation", first.isoformat(),
                         (first + timedelta(hours=1)).isoformat())]
    for n in range(booked - 1):
        day = first + timedelta(days=3 + 3 * (n // 2))
        kind = "dosing" if n % 2 == 0 else "integration"
        start = day if kind == "dosing" else day + timedelta(days=1)
        appts.append(appointment(f"a{n}", kind, start.isoformat(),
                                 (start + timedelta(hours=2 if kind == "dosing" else 1)).isoformat()))
    roster = [{"resourceType": "Practitioner", "id": "prac-lee"},
              {"resourceType": "Practitioner", "id": "prac-ortiz"},
              {"resourceType": "PractitionerRole", "id": "r1",
               "practitioner": {"reference": "Practitioner/prac-lee"},
               "code": [{"coding": [{"code": "prescriber"}]}]},
              {"resourceType": "PractitionerRole", "id": "r2",
               "practitioner": {"reference": "Practitioner/prac-ortiz"},
               "code": [{"coding": [{"code": "therapist"}]}]}]
    last = first + timedelta(days=3 + 3 * booked)
    proposed = appointment("new", "dosing", last.isoformat(),
                           (last + timedelta(hours=2)).isoformat(), "proposed")
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": r} for r in appts + roster]}
    condition = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                      "code": "F33.2"}]}}
    return {"hook": "appointment-book", "hookInstance": "bench",
            "context": {"userId": "Practitioner/desk", "patientId": "p1",
                        "appointments": [proposed]},
            "prefetch": {"patient": {"resourceType": "Patient", "id": "p1"},
                         "conditions": {"resourceType": "Bundle", "type": "searchset",
                                        "entry": [{"resource": condition}]},
                         "appointments": bundle}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kapcheck.cli", "serve", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        network = ROOT / "bench" / "out" / "network-10000.json"
        if not network.exists():
            subprocess.run([sys.executable, "bench/generate.py", "10000", str(network)],
                           cwd=ROOT, check=True)
        big = network.read_bytes()
        proposal = json.dumps({"schedule": document(compliant_course()),
                               "proposal": {"cancel": ["S-2"]}}).encode()
        hook = json.dumps(hook_call(50)).encode()
        out = {}
        with httpx.Client(timeout=120) as client:
            for name, path, body, count in (("one-patient proposal", "/propose", proposal,
                                             args.count),
                                            ("CDS Hooks call, 50 booked appointments",
                                             "/cds-services/kapcheck-appointment-book", hook,
                                             args.count),
                                            ("10k-session validate", "/validate", big, 20)):
                times = []
                for _ in range(count):
                    start = time.perf_counter()
                    answer = client.post(f"{url}{path}", content=body)
                    times.append((time.perf_counter() - start) * 1000)
                    assert answer.status_code == 200, answer.text[:200]
                times.sort()
                out[name] = {"requests": count, "median_ms": round(statistics.median(times), 1),
                             "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 1)}
        print(json.dumps(out))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
