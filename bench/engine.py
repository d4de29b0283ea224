"""The engine's own floor: microseconds per fact asserted and per match dispatched.

Drives one template's ruleset directly (no loader, no views, no verdicts) with batches
of synthetic facts, the way the engine runner does, and times three cases: facts that
match nothing (assert and retract only), and facts of which every pair matches (each
match one action call). The difference is the cost of a match. Each batch is asserted
(no answer is remembered: see ``engine._Memo``).

    python bench/engine.py [--batches 2000] [--size 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kapcheck.rules import engine as runner  # noqa: E402


def timed(e: runner._Engine, facts_of: list[list[dict]]) -> float:
    start = time.perf_counter()
    for facts in facts_of:
        e._asserted("count-in-span", [dict(f) for f in facts], "bench")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--size", type=int, default=20)
    args = parser.parse_args()
    e = runner._Engine()
    e.start()
    n = args.size
    sessions = [{"id": f"s{i}", "type": "s", "rank": i, "start": i * 10} for i in range(n)]
    # Probes that meet no session (rank far away): no match.
    quiet = sessions + [{"id": f"p:s{i}", "type": "probe", "rank": n + 5, "since": 0}
                        for i in range(n)]
    # Probes that each meet one session: one match each.
    loud = sessions + [{"id": f"p:s{i}", "type": "probe", "rank": i, "since": -1}
                       for i in range(n)]
    timed(e, [quiet] * 50)  # warm up
    t_quiet = timed(e, [quiet] * args.batches)
    t_loud = timed(e, [loud] * args.batches)
    facts = args.batches * len(quiet)
    matches = args.batches * n
    print(json.dumps({
        "batches": args.batches, "facts_per_batch": len(quiet),
        "us_per_fact": round(t_quiet / facts * 1e6, 2),
        "us_per_batch": round(t_quiet / args.batches * 1e6, 1),
        "us_per_match": round((t_loud - t_quiet) / matches * 1e6, 2),
    }))


if __name__ == "__main__":
    main()
