#!/usr/bin/env python3
"""Times python-mysql-replication's GtidSet on the workloads of benches/gtid_set.rs and prints ratios.

Runs the criterion benchmark first (same run), reads its estimates, then times the peer on identical
inputs and prints one markdown table: Rust time, Python time, and Python/Rust. Both sides measure the
CPU time of the measuring thread (the machine is shared): Rust per criterion's slope estimate, Python as the
median of 5 rounds of at least 0.1 s each.

    python3 bloodraven-gtid/benches/python_peer.py            # from the repository root
    python3 bloodraven-gtid/benches/python_peer.py --skip-rust  # reuse the last criterion results

The peer is PyPI `mysql-replication` (module pymysqlreplication.gtid). Its operations are quadratic in the
number of intervals, so each Python measurement runs in a child process with a wall-clock cap (--cap,
seconds); a run that does not finish is reported as "> the CPU time it had used" (setup excluded), and
its ratio as a lower bound.

Rust's `print` is `GtidSet::write_text()` into a `String` reused across calls, the documented fastest way
to print a set; `print_to_text` is `to_text()` (a new `String` each time: one malloc and free more) and
`print_to_string` is `to_string()` (through `Display`), both shown for information against the same
Python `str()` and not counted in the smallest ratio.

Peer notes: GtidSet has no subtraction, so subtract is per-UUID `Gtid - Gtid` matched by UUID; GtidSet's
`in` compares whole Gtid objects for equality rather than containment, so subset uses the per-UUID
`Gtid.__contains__` (a correct subset test). Union (`+`) raises on overlapping intervals, so the union
workload's B is disjoint from A (interleaved); subtract and subset use overlapping inputs.
"""

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = ["1_interval", "1k_intervals", "100k_intervals", "1k_uuids"]
OPS = ["parse", "print", "print_to_text", "print_to_string", "union", "subtract", "subset"]
INFORMATIVE = ("print_to_text", "print_to_string")
ROUNDS = 5


def uuid(i):
    return f"{0x3E110000 + i:08x}-71ca-11e1-9e33-c80aa9429562"


def intervals(n, lo, hi):
    """n intervals [10k+lo, 10k+hi], k = 0..n-1 (kept in sync with gtid_set.rs)."""
    return [(10 * k + lo, 10 * k + hi) for k in range(n)]


def shape(name):
    """(number of uuids, intervals per uuid)."""
    return {"1_interval": (1, 1), "1k_intervals": (1, 1000), "100k_intervals": (1, 100_000), "1k_uuids": (1000, 3)}[name]


def text(name, lo, hi):
    n_uuids, n = shape(name)
    fmt = lambda iv: f"{iv[0]}-{iv[1]}"
    return ",\n".join(f"{uuid(u)}:" + ":".join(fmt(iv) for iv in intervals(n, lo, hi)) for u in range(n_uuids))


# The sets of a workload: A, B_union (disjoint from A), B_sub (overlapping A), SUPER = A ∪ B_union.
A, B_UNION, B_SUB = (1, 5), (7, 8), (4, 8)


def peer_set(name, *shapes):
    """A python-mysql-replication GtidSet built directly from sorted, disjoint intervals of the given shapes
    (the peer's own parsing and merging are quadratic, too slow to build the large inputs)."""
    from pymysqlreplication.gtid import Gtid, GtidSet

    n_uuids, n = shape(name)
    gtids = []
    for u in range(n_uuids):
        g = Gtid.__new__(Gtid)
        g.sid = uuid(u)
        ivs = sorted(iv for lo, hi in shapes for iv in intervals(n, lo, hi))
        g.intervals = [(s, e + 1) for s, e in ivs]  # the peer stores [start, end)
        gtids.append(g)
    return GtidSet(gtids)


def peer_op(name, op):
    """Returns a zero-argument callable running `op` on the workload, after building its inputs."""
    from pymysqlreplication.gtid import GtidSet

    if op == "parse":
        t = text(name, *A)
        return lambda: GtidSet(t)
    a = peer_set(name, A)
    if op == "print" or op in INFORMATIVE:
        # The peer has one way to print: str().
        return lambda: str(a)
    if op == "union":
        b = peer_set(name, B_UNION)
        return lambda: a + b
    if op == "subtract":
        b = peer_set(name, B_SUB)

        def subtract():
            by_sid = {g.sid: g for g in b.gtids}
            return GtidSet([g - by_sid[g.sid] if g.sid in by_sid else g for g in a.gtids])

        return subtract
    if op == "subset":
        sup = peer_set(name, A, B_UNION)  # A ∪ B_union: the shapes do not touch

        def subset():
            return all(any(g in h for h in sup.gtids) for g in a.gtids)

        return subset
    raise ValueError(op)


def time_peer(name, op, queue):
    fn = peer_op(name, op)
    queue.put(("setup", time.process_time()))
    # CPU time of this thread, like the Rust side, so a loaded machine does not skew the ratio. The peer's
    # time moves by up to 1.7x from one measurement to the next, so it is the median of ROUNDS rounds of
    # at least 0.1 s each (a round that is over the cap never ends, and the caller reports a lower bound).
    rounds = []
    for _ in range(ROUNDS):
        runs, start = 0, time.thread_time()
        while True:  # at least one run, then until 0.1 s of CPU time have passed
            fn()
            runs += 1
            elapsed = time.thread_time() - start
            if elapsed >= 0.1:
                break
        rounds.append(elapsed / runs)
    queue.put(("done", statistics.median(rounds)))


def process_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure_peer(name, op, cap):
    """Returns (seconds per run, False), or (a lower bound on the CPU time of one run, True) at the cap."""
    queue = mp.Queue()
    proc = mp.Process(target=time_peer, args=(name, op, queue))
    proc.start()
    proc.join(cap)
    messages = {}
    if proc.is_alive():
        spent = process_cpu_seconds(proc.pid)
        proc.kill()
        proc.join()
        while not queue.empty():
            kind, value = queue.get()
            messages[kind] = value
        if "setup" not in messages:
            return None, True
        return max(spent - messages["setup"], 0.0), True
    while not queue.empty():
        kind, value = queue.get()
        messages[kind] = value
    return messages["done"], False


def rust_estimates(target_dir):
    out = {}
    for op in OPS:
        for name in WORKLOADS:
            path = os.path.join(target_dir, "criterion", op, name, "new", "estimates.json")
            with open(path) as f:
                estimates = json.load(f)
            # The slope of time over iterations drops the constant cost of reading the CPU clock.
            best = estimates.get("slope") or estimates["mean"]
            out[(op, name)] = best["point_estimate"] * 1e-9
    return out


def fmt_time(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-rust", action="store_true", help="reuse the last criterion results")
    parser.add_argument("--cap", type=float, default=20.0, help="seconds allowed per Python measurement")
    args = parser.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    if not args.skip_rust:
        cmd = ["cargo", "bench", "-p", "bloodraven-gtid", "--bench", "gtid_set", "--",
               "--warm-up-time", "1", "--measurement-time", "2", "--noplot"]
        print("$", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, cwd=root, check=True, stdout=sys.stderr)
    rust = rust_estimates(target_dir)

    import pymysqlreplication  # noqa: F401  (fail early when the peer is missing)
    from importlib.metadata import version

    print(f"python-mysql-replication {version('mysql-replication')}, Python {sys.version.split()[0]}, "
          f"cap {args.cap:g} s per measurement\n")
    print("| workload | op | Rust (CPU time) | Python (CPU time) | Python / Rust |")
    print("|---|---|---|---|---|")
    worst = None
    for name in WORKLOADS:
        for op in OPS:
            r = rust[(op, name)]
            p, capped = measure_peer(name, op, args.cap)
            if capped and p is None:
                cell, ratio_cell = "(setup unfinished at the cap)", "n/a"
                print(f"| {name} | {op} | {fmt_time(r)} | {cell} | {ratio_cell} |", flush=True)
                continue
            if capped:
                ratio = p / r
                cell, ratio_cell = f"> {fmt_time(p)} (unfinished at the cap)", f"> {ratio:,.0f}×"
            else:
                ratio = p / r
                cell, ratio_cell = fmt_time(p), f"{ratio:,.0f}×"
            if op not in INFORMATIVE:  # `print` (write_text) is the printing measured
                worst = ratio if worst is None else min(worst, ratio)
            extra = ""
            if op == "parse":
                mb_s = len(text(name, *A)) / r / 1e6
                extra = f" ({mb_s:,.0f} MB/s)"
            print(f"| {name} | {op} | {fmt_time(r)}{extra} | {cell} | {ratio_cell} |", flush=True)
    print(f"\nsmallest ratio ({' and '.join(INFORMATIVE)} not counted): {worst:,.0f}×")


if __name__ == "__main__":
    main()
