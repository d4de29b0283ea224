"""--jobs N partitions patients (and clinicians' days) across worker processes: the
findings must be exactly those of one process and of the reference evaluator."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from kapcheck.protocol import load_protocol, load_schedule
from kapcheck.rules import validate
from kapcheck.rules.validate import PARALLEL_MIN_SESSIONS

from .reference import evaluate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from generate import network  # noqa: E402


def keys(report):  # type: ignore[no-untyped-def]
    return [(f.rule, f.severity.value, f.patient, f.session, f.message) for f in report.findings]


def test_jobs_give_the_same_findings_as_one_process_and_the_reference(tmp_path: Path) -> None:
    path = tmp_path / "network.json"
    path.write_bytes(orjson.dumps(network(PARALLEL_MIN_SESSIONS + 1000, seed=7)))
    schedule = load_schedule(path)
    protocol = load_protocol("kap")
    one = validate(schedule, protocol, jobs=1)
    two = validate(schedule, protocol, jobs=2)
    three = validate(schedule, protocol, jobs=3)
    assert keys(one) == keys(two) == keys(three)
    assert len(one.findings) > 50
    assert {k[:4] for k in keys(one)} == evaluate(schedule, protocol)
