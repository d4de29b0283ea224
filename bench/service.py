"""Latency of `kapcheck serve` over real HTTP on loopback: a one-patient proposal and a
10k-session validate, median and 99th percentile.

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
        out = {}
        with httpx.Client(timeout=120) as client:
            for name, path, body, count in (("one-patient proposal", "/propose", proposal,
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
