#!/usr/bin/env bash
# Dump and restore one dataset with bloodraven-backup and its peers in the same run: mydumper/myloader
# (as packaged in Debian 12, 0.10: gzip compression with `-c`) and mariadb-dump piped through zstd, each into a fresh
# server. Prints a markdown table (wall time, output bytes, peak RSS of the tool) for docs/benchmarks.md.
#
#   cargo build --release -p bloodraven-backup
#   apt-get install mydumper zstd        # the peers (Debian packages)
#   bash bloodraven-backup/benches/compare.sh [ROWS] [THREADS]
#
# ROWS (default 1000000) rows go into each of three tables (integer key, composite key, no key), about
# 230 bytes per row. THREADS (default 2) is given to every tool that takes it. The binary is taken from
# $BLOODRAVEN_BACKUP or $CARGO_TARGET_DIR/release (default target/release).
set -euo pipefail

ROWS=${1:-1000000}
THREADS=${2:-2}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BLOODRAVEN_BACKUP:-${CARGO_TARGET_DIR:-$ROOT/target}/release/bloodraven-backup}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p bloodraven-backup ($BIN)" >&2; exit 2; }
for tool in mariadbd mariadb-install-db mariadb mariadb-dump mydumper myloader zstd /usr/bin/time; do
    command -v "$tool" >/dev/null || [ -x "$tool" ] || [ -x "/usr/sbin/$tool" ] || {
        echo "missing $tool (apt-get install mariadb-server mariadb-client mydumper zstd time)" >&2; exit 2; }
done
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
WORK=$(mktemp -d /tmp/bloodraven-bench-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# start_server NAME PORT: a server with its own datadir and tmpdir, binlog and GTIDs on.
start_server() {
    local dir=$WORK/$1 port=$2 user=()
    [ "$(id -u)" = 0 ] && user=(--user=root)
    mkdir -p "$dir/tmp" "$dir/binlog"
    mariadb-install-db --no-defaults "${user[@]}" --auth-root-authentication-method=normal --skip-test-db \
        --datadir="$dir/data" --innodb-log-file-size=256M >/dev/null 2>&1
    "$MARIADBD" --no-defaults "${user[@]}" --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
        --socket="$dir/sock" --tmpdir="$dir/tmp" --log-error="$dir/error.log" --log-bin="$dir/binlog/b" \
        --server-id="$port" --innodb-log-file-size=256M --innodb-buffer-pool-size=512M \
        --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 --local-infile=1 --skip-name-resolve \
        --max-allowed-packet=256M >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 600); do
        mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server $1 did not start" >&2; tail "$dir/error.log" >&2; exit 2
}
sql() { mariadb --no-defaults -h127.0.0.1 -P"$1" -uroot -N -B -e "$2"; }

# measure LABEL CMD...: wall seconds and peak RSS (MiB) of CMD.
RESULTS=()
measure() {
    local label=$1; shift
    local start end rss
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 2; }
    end=$(date +%s.%N)
    rss=$(tail -1 "$WORK/rss")
    LAST_SECONDS=$(echo "$end - $start" | bc)
    LAST_RSS=$((rss / 1024))
    echo "$label: ${LAST_SECONDS}s, peak RSS ${LAST_RSS} MiB" >&2
}

start_server source 33061
echo "loading $ROWS rows x 3 tables" >&2
sql 33061 "CREATE DATABASE bench; USE bench;
  CREATE TABLE bench.pk (id BIGINT PRIMARY KEY, a INT, b VARCHAR(100), c DATETIME, d DECIMAL(12,2), e TEXT);
  CREATE TABLE bench.composite (k1 INT, k2 INT, v VARCHAR(150), PRIMARY KEY (k1, k2));
  CREATE TABLE bench.nokey (a INT, b VARCHAR(150), c DOUBLE);
  INSERT INTO bench.pk SELECT seq, seq % 1000, MD5(seq), '2024-01-01' + INTERVAL seq SECOND, seq / 3,
    CONCAT(SHA2(seq, 256), '\t', seq) FROM seq_1_to_$ROWS;
  INSERT INTO bench.composite SELECT seq DIV 10, seq % 10, REPEAT(MD5(seq), 4) FROM seq_1_to_$ROWS;
  INSERT INTO bench.nokey SELECT seq, REPEAT(SHA1(seq), 3), seq * 1.5 FROM seq_1_to_$ROWS;
  ANALYZE TABLE bench.pk, bench.composite, bench.nokey;" >/dev/null
checksum() { sql "$1" "CHECKSUM TABLE bench.pk, bench.composite, bench.nokey EXTENDED" | awk '{print $2}' | tr '\n' ' '; }
SOURCE_SUM=$(checksum 33061)
DATA=$(sql 33061 "SELECT SUM(DATA_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA='bench'")
echo "source data length: $DATA bytes" >&2

row() { RESULTS+=("| $1 | $2 | $3 | $4 | $5 |"); }
size() { du -sb "$1" | awk '{print $1}'; }

# bloodraven-backup
measure "bloodraven-backup dump" "$BIN" dump --to "file://$WORK/br" --port 33061 --threads "$THREADS" \
    --bytes-per-chunk 33554432 --no-progress
row "bloodraven-backup dump (zstd)" "$LAST_SECONDS" "$(size "$WORK/br")" "$LAST_RSS" "-"
start_server t1 33062
measure "bloodraven-backup restore" "$BIN" restore --from "file://$WORK/br" --port 33062 --threads "$THREADS" --no-progress
ok=$([ "$(checksum 33062)" = "$SOURCE_SUM" ] && echo equal || echo DIFFERENT)
row "bloodraven-backup restore" "$LAST_SECONDS" "-" "$LAST_RSS" "$ok"

# mydumper / myloader
measure "mydumper" mydumper -h 127.0.0.1 -P 33061 -u root -B bench -t "$THREADS" -c -r 200000 -o "$WORK/myd"
row "mydumper -c (gzip), -r 200000" "$LAST_SECONDS" "$(size "$WORK/myd")" "$LAST_RSS" "-"
start_server t2 33063
measure "myloader" myloader -h 127.0.0.1 -P 33063 -u root -t "$THREADS" -d "$WORK/myd"
ok=$([ "$(checksum 33063)" = "$SOURCE_SUM" ] && echo equal || echo DIFFERENT)
row "myloader" "$LAST_SECONDS" "-" "$LAST_RSS" "$ok"

# mariadb-dump | zstd, mariadb < dump
measure "mariadb-dump" bash -c "mariadb-dump --no-defaults -h127.0.0.1 -P33061 -uroot --single-transaction \
    --databases bench | zstd -q -3 -T1 > '$WORK/dump.sql.zst'"
row "mariadb-dump \\| zstd -3" "$LAST_SECONDS" "$(size "$WORK/dump.sql.zst")" "$LAST_RSS" "-"
start_server t3 33064
measure "mariadb load" bash -c "zstd -dc '$WORK/dump.sql.zst' | mariadb --no-defaults -h127.0.0.1 -P33064 -uroot"
ok=$([ "$(checksum 33064)" = "$SOURCE_SUM" ] && echo equal || echo DIFFERENT)
row "zstd -d \\| mariadb" "$LAST_SECONDS" "-" "$LAST_RSS" "$ok"

echo
echo "rows: 3 x $ROWS, source DATA_LENGTH $DATA bytes, threads $THREADS, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| step | wall s | output bytes | peak RSS MiB (tool) | checksums vs source |"
echo "|---|---|---|---|---|"
printf '%s\n' "${RESULTS[@]}"
