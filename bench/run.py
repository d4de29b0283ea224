"""End-to-end benchmark: kapcheck against a plain checker, on the same file, in one run.

For each size it generates a synthetic network (bench/generate.py, cached in
bench/out/), then, in this one run and alternating between them:

* ``kapcheck validate FILE --format json`` as a subprocess, with the default ``--jobs``
  and with ``--jobs 1``;
* ``bench/plain.py FILE``: a plain-Python checker written from the contract that shares
  nothing with kapcheck (it reads the JSON itself);

kapcheck's modules are compiled to bytecode first, as pip does when it installs a wheel:
an editable install run with PYTHONDONTWRITEBYTECODE=1 (as on this project's machines)
would otherwise compile them from source in every run (0.1-0.2 s of each). Then
it checks that all three give identical findings and reports wall seconds (best and
median of ``--repeat``), the ratio to the plain checker, and the peak resident memory
of each command's whole process tree (sampled from /proc every 20 ms).

    python bench/run.py [--sizes 10000 100000 1000000] [--repeat 3] [--shape even varied]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def tree_rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in members and pid not in members:
                members.add(pid)
                grew = True
    return sum(rss.get(pid, 0) for pid in members) / 2**20


def run(cmd: list[str]) -> tuple[float, float, bytes]:
    """Wall seconds, peak RSS of the process tree in MiB, stdout."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT)
        peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss_mib(proc.pid))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
        if code not in (0, 1):
            err.seek(0)
            sys.exit(f"{' '.join(cmd)} failed ({code}):\n{err.read().decode()}")
        out.seek(0)
        return elapsed, peak[0], out.read()


def keys_of(report: bytes) -> list[list[object]]:
    doc = json.loads(report)
    # A session of co-therapists double-booked by two different sessions is two findings
    # (their related sessions differ): one key.
    keys = {(f["rule"], f["severity"], f["patient"], f["session"]) for f in doc["findings"]}
    return sorted(([*k] for k in keys), key=lambda k: [str(x) for x in k])


def network_file(size: int, shape: str) -> Path:
    """The generated network of that size and shape (bench/generate.py), made once."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / (f"network-{size}.json" if shape == "even" else f"network-{shape}-{size}.json")
    if not path.exists():
        subprocess.run([sys.executable, "bench/generate.py", str(size), str(path),
                        "--shape", shape], cwd=ROOT, check=True)
    return path


def bench(size: int, repeat: int, shape: str = "even") -> dict[str, object]:
    path = network_file(size, shape)
    kapcheck = [sys.executable, "-m", "kapcheck.cli", "validate", str(path), "--format", "json"]
    commands = {"kapcheck": kapcheck, "kapcheck --jobs 1": kapcheck + ["--jobs", "1"],
                "plain": [sys.executable, "bench/plain.py", str(path)]}
    runs: dict[str, list[tuple[float, float, bytes]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            runs[name].append(run(cmd))
    plain_keys = json.loads(runs["plain"][0][2])
    same = keys_of(runs["kapcheck"][0][2]) == plain_keys == keys_of(runs["kapcheck --jobs 1"][0][2])
    n = len(json.loads(path.read_bytes())["sessions"])
    row: dict[str, object] = {"shape": shape, "sessions": n, "findings": len(plain_keys),
                              "identical": same}
    best = {name: min(r[0] for r in results) for name, results in runs.items()}
    for name, results in runs.items():
        times = [r[0] for r in results]
        row[name] = {"best_s": round(min(times), 2), "median_s": round(statistics.median(times), 2),
                     "spread": round((max(times) - min(times)) / min(times), 2),
                     "peak_tree_rss_mib": round(max(r[1] for r in results))}
    row["ratio"] = round(best["kapcheck"] / best["plain"], 2)
    row["ratio_jobs1"] = round(best["kapcheck --jobs 1"] / best["plain"], 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--shape", choices=["even", "varied", "groups"], nargs="+",
                        default=["even"])
    args = parser.parse_args()
    print(f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for package in ("protocol", "rules", "cli"):
        compileall.compile_dir(ROOT / package, quiet=1)
    for shape in args.shape:
        for size in args.sizes:
            row = bench(size, args.repeat, shape)
            print(json.dumps(row), flush=True)
            if not row["identical"]:
                sys.exit("findings differ between kapcheck and the plain checker")


if __name__ == "__main__":
    main()
