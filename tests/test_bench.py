"""The benchmark scripts still run against the engine they measure (they reach into it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_engine_floor_benchmark_runs() -> None:
    done = subprocess.run([sys.executable, "bench/engine.py", "--batches", "20", "--size", "4"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    floor = json.loads(done.stdout)
    assert floor["facts_per_batch"] == 8 and floor["us_per_fact"] > 0
