"""End-to-end benchmark: kapcheck against the plain-Python reference on the same file.

For each size it generates a synthetic network (bench/generate.py, cached in
bench/out/), then, in this one run:

* times ``kapcheck validate FILE --format json`` as a subprocess (default --jobs, the
  number of cores) and with ``--jobs 1``, and reads the peak RSS of each;
* times the reference evaluator (tests/reference.py) end to end in a subprocess: the
  same loader, then plain-Python rules;
* checks that the findings of all three are identical.

    python bench/run.py [--sizes 10000 100000 1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
REFERENCE = """
import sys, json
sys.path.insert(0, {root!r})
from kapcheck.protocol import load_schedule, load_protocol
from tests.reference import evaluate
keys = evaluate(load_schedule(sys.argv[1]), load_protocol("kap"))
json.dump(sorted([list(k) for k in keys], key=lambda k: [str(x) for x in k]), sys.stdout)
"""


def run(cmd: list[str]) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS in MiB (the largest process of the tree), stdout."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):
            err.seek(0)
            sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read().decode()}")
    return elapsed, usage.ru_maxrss // 1024, out


def keys_of(report: bytes) -> list[list[object]]:
    doc = json.loads(report)
    keys = [[f["rule"], f["severity"], f["patient"], f["session"]] for f in doc["findings"]]
    return sorted(keys, key=lambda k: [str(x) for x in k])


def bench(size: int, repeat: int) -> dict[str, object]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"network-{size}.json"
    if not path.exists():
        subprocess.run([sys.executable, "bench/generate.py", str(size), str(path)], cwd=ROOT,
                       check=True)
    kapcheck = [sys.executable, "-m", "kapcheck.cli", "validate", str(path), "--format", "json"]
    reference = [sys.executable, "-c", REFERENCE.format(root=str(ROOT)), str(path)]
    best: dict[str, tuple[float, int, bytes]] = {}
    for _ in range(repeat):
        for name, cmd in (("kapcheck", kapcheck), ("kapcheck --jobs 1", kapcheck + ["--jobs", "1"]),
                          ("reference", reference)):
            result = run(cmd)
            if name not in best or result[0] < best[name][0]:
                best[name] = result
    ref_keys = json.loads(best["reference"][2])
    same = keys_of(best["kapcheck"][2]) == ref_keys == keys_of(best["kapcheck --jobs 1"][2])
    sessions = json.loads(path.read_bytes())["sessions"]
    n = len(sessions)
    row = {"sessions": n, "findings": len(ref_keys), "identical": same}
    for name, (seconds, rss, _) in best.items():
        row[name] = {"seconds": round(seconds, 2), "sessions_per_s": round(n / seconds),
                     "peak_rss_mib": rss}
    row["ratio_to_reference"] = round(best["kapcheck"][0] / best["reference"][0], 2)
    row["ratio_jobs1_to_reference"] = round(best["kapcheck --jobs 1"][0] / best["reference"][0], 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for size in args.sizes:
        row = bench(size, args.repeat)
        print(json.dumps(row))
        if not row["identical"]:
            sys.exit("findings differ between kapcheck and the reference")


if __name__ == "__main__":
    main()
