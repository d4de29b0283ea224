"""Run random schedules through the engine on one thread, for valgrind.

    PYTHONMALLOC=malloc valgrind --error-limit=no .venv/bin/python bench/memcheck.py 40

durable_rules 2.0.28 has memory errors (see DEVELOPERS.md); this is how they were
found and how a change to the engine's use of it is re-checked. Look for entries whose
stack names durable_rules_engine; the script also compares every verdict with the
reference evaluator and prints the number of mismatches.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kapcheck.rules import engine, validate  # noqa: E402
from tests.generate import build, protocol_variant  # noqa: E402
from tests.reference import evaluate  # noqa: E402

engine._on_engine_thread = lambda fn, *args: fn(*args)  # no second thread under valgrind


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    mismatches = 0
    for _ in range(count):
        schedule = build(rng.choice)
        protocol = protocol_variant(rng.choice)
        found = {(f.rule, f.severity.value, f.patient, f.session)
                 for f in validate(schedule, protocol).findings}
        mismatches += found != evaluate(schedule, protocol)
    print(f"{count} schedules, {mismatches} mismatches")


if __name__ == "__main__":
    main()
