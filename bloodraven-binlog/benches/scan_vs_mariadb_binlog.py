#!/usr/bin/env python3
"""Scan throughput: `bloodraven-binlog scan` against `mariadb-binlog FILE > /dev/null` on the same file.

Starts a throwaway MariaDB server (temporary data directory under /tmp, loopback port, BLACKHOLE tables so
only the binlog grows), writes row-based autocommit INSERTs until the first binlog reaches --size-mib,
rotates, stops the server, then times both tools on the closed file (page cache warmed first; best of
--runs for bloodraven-binlog, one run of mariadb-binlog) and prints wall times, throughput, the ratio and
peak RSS (from /usr/bin/time). Everything is deleted afterwards unless --keep is given.

    cargo build --release -p bloodraven-binlog --bin bloodraven-binlog
    python3 bloodraven-binlog/benches/scan_vs_mariadb_binlog.py --bin target/release/bloodraven-binlog
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, stdout=subprocess.DEVNULL):
    """Runs cmd under /usr/bin/time; returns (wall seconds, peak RSS KiB)."""
    out = tempfile.NamedTemporaryFile(mode="r", suffix=".time")
    start = time.monotonic()
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + cmd, stdout=stdout, check=True)
    wall = time.monotonic() - start
    rss = int(open(out.name).read().split()[-1])
    return wall, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="path to a release bloodraven-binlog binary")
    ap.add_argument("--size-mib", type=int, default=1024, help="binlog size to generate (default 1024)")
    ap.add_argument("--runs", type=int, default=3, help="bloodraven-binlog runs; the best counts (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="bloodraven-scan-bench-", dir="/tmp")
    server = None
    try:
        data, binlogs = os.path.join(work, "data"), os.path.join(work, "binlog")
        os.makedirs(binlogs)
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", "--user=root", "--auth-root-authentication-method=normal",
             "--skip-test-db", f"--datadir={data}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = free_port()
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        server = subprocess.Popen(
            [mariadbd, "--no-defaults", f"--datadir={data}", f"--port={port}", "--bind-address=127.0.0.1",
             f"--socket={work}/s.sock", f"--log-error={work}/error.log", "--user=root", "--server-id=1",
             f"--log-bin={binlogs}/mysql-bin", "--max-binlog-size=1073741824", "--binlog-format=ROW",
             "--sync-binlog=0", "--plugin-load-add=ha_blackhole"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = ["mariadb", "--no-defaults", "--protocol=tcp", "-h127.0.0.1", f"-P{port}", "-uroot"]
        for _ in range(300):
            if subprocess.run(client + ["-e", "SELECT 1"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(client + ["-e", "CREATE DATABASE b; CREATE TABLE b.t (id BIGINT, k INT, pad VARCHAR(700)) "
                                 "ENGINE=BLACKHOLE"], check=True)

        first = os.path.join(binlogs, "mysql-bin.000001")
        target = args.size_mib << 20
        t0 = time.monotonic()
        n = 0
        while os.path.getsize(first) < target:
            feed = subprocess.Popen(client, stdin=subprocess.PIPE, text=True)
            lines = []
            for _ in range(2000):
                # 50 rows of ~660 bytes per autocommit transaction.
                lines.append(f"INSERT INTO b.t SELECT seq + {n}, seq % 1000, REPEAT(MD5(seq + {n}), 20) "
                             f"FROM b.seq_1_to_50;\n")
                n += 50
            feed.communicate("".join(lines))
            if feed.returncode != 0:
                sys.exit("generator failed")
        subprocess.run(client + ["-e", "FLUSH BINARY LOGS"], check=True)
        server.terminate()
        server.wait()
        server = None
        size = os.path.getsize(first)
        print(f"generated {first}: {size} bytes ({size / 2**30:.2f} GiB), {n} rows, "
              f"in {time.monotonic() - t0:.0f} s")

        subprocess.run(["cat", first], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        ours = [timed([args.bin, "scan", first]) for _ in range(args.runs)]
        ours_wall = min(w for w, _ in ours)
        ours_rss = max(r for _, r in ours)
        theirs_wall, theirs_rss = timed(["mariadb-binlog", first])
        subprocess.run([args.bin, "scan", first])
        mib = size / 2**20
        print(f"bloodraven-binlog scan: {ours_wall:.2f} s ({mib / ours_wall:.0f} MiB/s), peak RSS {ours_rss / 1024:.1f} MiB")
        print(f"mariadb-binlog > /dev/null: {theirs_wall:.2f} s ({mib / theirs_wall:.0f} MiB/s), "
              f"peak RSS {theirs_rss / 1024:.1f} MiB")
        print(f"ratio: bloodraven-binlog scan is {theirs_wall / ours_wall:.1f}x faster")
    finally:
        if server is not None:
            server.kill()
            server.wait()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
