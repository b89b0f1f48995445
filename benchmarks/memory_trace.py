"""Where a command's memory goes: its output, each line stamped with the elapsed time and the
resident memory of its process tree at that moment, then the peak and the line it followed.

    uv run python benchmarks/memory_trace.py -- uv run housing train
    uv run python benchmarks/memory_trace.py --every 0.5 --out trace.tsv -- uv run housing run

RSS is sampled from /proc every `--every` seconds (the command's process and all its
descendants), so a spike shorter than that can be missed; `ru_maxrss` of the tree is printed too.
`--out` writes every sample (seconds, MB, the last output line) as TSV, for a plot or a diff.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and every descendant, in MB (0 once it is gone)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        todo += _children(pid)
    return total / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--out", type=Path, help="write every sample as TSV here")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to trace after --")

    started = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    last_line = ["(start)"]
    samples: list[tuple[float, float, str]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter() - started, tree_rss_mb(proc.pid), last_line[0]))
            done.wait(args.every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        now = time.perf_counter() - started
        rss = samples[-1][1] if samples else 0.0
        sys.stdout.write(f"{now:8.1f}s {rss:8.0f} MB | {line}")
        sys.stdout.flush()
        last_line[0] = line.strip()[:160]
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)

    if samples:
        at, peak, after = max(samples, key=lambda s: s[1])
        print(f"\npeak sampled RSS {peak:,.0f} MB at {at:.1f}s, after: {after}")
    print(f"ru_maxrss (largest single process) {usage.ru_maxrss / 1024:,.0f} MB; exit {code}")
    if args.out:
        with args.out.open("w") as f:
            f.write("seconds\trss_mb\tlast_line\n")
            f.writelines(f"{s:.1f}\t{r:.0f}\t{line}\n" for s, r, line in samples)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
