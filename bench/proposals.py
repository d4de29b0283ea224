"""Latency of one-session proposals on a booked network, and the cost of a Checker.

Builds a Checker on the network (bench/generate.py), then answers N random proposals,
each adding, moving or cancelling one session, and reports the median and 99th
percentile in milliseconds, with one full ``validate`` in the same run for scale.

    python bench/proposals.py [--size 100000] [--count 300] [--shape even|varied|groups] [--no-freeze]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import network_file  # noqa: E402  (bench/run.py, beside this file)

from kapcheck.protocol import load_protocol, load_schedule  # noqa: E402
from kapcheck.rules import Checker, validate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--shape", choices=["even", "varied", "groups"], default="even")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the booked model to the cyclic collector")
    args = parser.parse_args()
    path = network_file(args.size, args.shape)
    schedule, protocol = load_schedule(path), load_protocol("kap")
    start = time.perf_counter()
    validate(schedule, protocol)
    validate_s = time.perf_counter() - start
    start = time.perf_counter()
    checker = Checker(schedule, protocol)
    checker_s = time.perf_counter() - start
    if not args.no_freeze:
        # As a process that keeps a Checker does (docs/reference/library.md), and as the
        # CLI does with its model: the booked model is moved out of the collector's
        # reach. A full collection walks all of it (50 ms at 100k sessions) and finds
        # nothing; without this, one proposal in 60 to 300 pays for one.
        gc.freeze()
    rng = random.Random(1)
    sessions = list(schedule.sessions)
    times: dict[str, list[float]] = {"add": [], "move": [], "cancel": []}
    for n in range(args.count):
        s = rng.choice(sessions)
        what = ("add", "move", "cancel")[n % 3]
        shift = timedelta(hours=rng.choice([-49, -24, 1, 3, 25, 70]))
        if what == "add":
            fields = {"id": f"BENCH-{n}", "patient": s.patient, "kind": "integration",
                      "modality": "CBT", "start": (s.end + shift).isoformat(),
                      "duration": "50m", "clinician": s.clinician,
                      **({"room": s.room} if s.room is not None else {})}
            call = {"add": [fields]}
        elif what == "move":
            call = {"move": [{"id": s.id, "start": (s.start + shift).isoformat()}]}
        else:
            call = {"cancel": [s.id]}
        start = time.perf_counter()
        checker.propose(**call)
        times[what].append((time.perf_counter() - start) * 1000)
    every = sorted(t for ts in times.values() for t in ts)
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))]
    print(json.dumps({
        "shape": args.shape, "sessions": len(schedule.sessions), "proposals": len(every),
        "validate_s": round(validate_s, 2), "checker_s": round(checker_s, 2),
        "median_ms": round(statistics.median(every), 2), "p99_ms": round(p99, 2),
        "median_ms_by_kind": {k: round(statistics.median(v), 2) for k, v in times.items()},
    }))


if __name__ == "__main__":
    main()
