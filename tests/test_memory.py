"""Memory does not grow with the number of runs: engine states are emptied and reused,
nothing is kept between runs."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

from kapcheck.protocol import load_protocol, load_schedule
from kapcheck.rules import validate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from generate import network  # noqa: E402

STATM = Path("/proc/self/statm")


def resident_mib() -> float:
    return int(STATM.read_text().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not STATM.exists(), reason="reads resident memory from /proc")
def test_thirty_runs_leave_resident_memory_flat(tmp_path: Path) -> None:
    path = tmp_path / "network.json"
    path.write_bytes(orjson.dumps(network(3000, seed=5)))
    schedule, protocol = load_schedule(path), load_protocol("kap")
    for _ in range(5):
        validate(schedule, protocol)
    settled = resident_mib()
    for _ in range(25):
        validate(schedule, protocol)
    assert resident_mib() - settled < 8, "resident memory grew across runs"


@pytest.mark.skipif(not STATM.exists(), reason="reads resident memory from /proc")
def test_many_small_library_calls_leave_resident_memory_flat() -> None:
    """An embedding booking system calls validate thousands of times a day: the
    resident set must not creep (it once grew about 105 bytes a call)."""
    schedule = load_schedule(Path(__file__).resolve().parent.parent / "examples" / "riverside.yaml")
    protocol = load_protocol("kap")
    for _ in range(1000):
        validate(schedule, protocol)
    settled = resident_mib()
    for _ in range(1000):
        validate(schedule, protocol)
    assert (resident_mib() - settled) * 2**20 / 1000 < 64, "resident memory grew per call"
