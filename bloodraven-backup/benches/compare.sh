#!/usr/bin/env bash
# Dump and restore one dataset with bloodraven-backup and its peers in the same run: mydumper/myloader
# (as packaged in Debian 12, 0.10: gzip compression with `-c`) and mariadb-dump (plain, and piped through
# zstd), each restored into a fresh server; then a verification (examples/backup_cycle.rs) of the dump with
# a latest point-in-time replay. Prints a markdown table for docs/benchmarks.md.
#
#   cargo build --release -p bloodraven-backup --bins --example backup_cycle
#   apt-get install mydumper zstd        # the peers (Debian packages)
#   bash bloodraven-backup/benches/compare.sh [ROWS] [THREADS]
#
# ROWS (default 2000000) rows go into each of three tables (integer key with two secondary indexes,
# composite key, no key), about 170 bytes of DATA_LENGTH per row, so the default is 1 GB of data. Every
# step reports wall time, the tool's CPU time, and the server's CPU time for it (measured from
# /proc/PID/stat, including the flushing after the step), so the figures can be read on a shared machine.
# The verification step replays ROWS/20 row updates made after the dump. THREADS (default 2) is given to
# every tool that takes it. The plain restore and the verification run RUNS (default 3) times each, in
# turn, and are compared by their medians. The binary is taken from $BLOODRAVEN_BACKUP or
# $CARGO_TARGET_DIR/release (default target/release), the example from the same directory's examples/.
# SKIP_PEERS=1 runs only bloodraven-backup's steps (for a quick look; the figures in docs/benchmarks.md come
# from full runs).
set -euo pipefail

ROWS=${1:-2000000}
THREADS=${2:-2}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BLOODRAVEN_BACKUP:-${CARGO_TARGET_DIR:-$ROOT/target}/release/bloodraven-backup}
EXAMPLE=${BACKUP_CYCLE:-$(dirname "$BIN")/examples/backup_cycle}
for b in "$BIN" "$EXAMPLE"; do
    [ -x "$b" ] || { echo "build first: cargo build --release -p bloodraven-backup --bins --example backup_cycle ($b)" >&2
        exit 2; }
done
for tool in mariadbd mariadb-install-db mariadb mariadb-dump mydumper myloader zstd /usr/bin/time; do
    command -v "$tool" >/dev/null || [ -x "$tool" ] || [ -x "/usr/sbin/$tool" ] || {
        echo "missing $tool (apt-get install mariadb-server mariadb-client mydumper zstd time)" >&2; exit 2; }
done
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
WORK=$(mktemp -d /tmp/bloodraven-bench-XXXXXX)
PIDS=()
declare -A SERVERS
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
    SERVERS[$1]=$!
    for _ in $(seq 1 600); do
        mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server $1 did not start" >&2; tail "$dir/error.log" >&2; exit 2
}
sql() { mariadb --no-defaults -h127.0.0.1 -P"$1" -uroot -N -B -e "$2"; }

# cpu PID: CPU seconds (user + system) the process has used so far.
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
# settle PID: wait until the server has been idle for a second (its page flushing after a load is part of
# the step's cost), at most 60 s.
settle() {
    local a b
    a=$(cpu "$1")
    for _ in $(seq 1 60); do
        sleep 1; b=$(cpu "$1")
        [ "$(echo "$b - $a < 0.03" | bc)" = 1 ] && return 0
        a=$b
    done
}
# measure LABEL SERVER_PID CMD...: wall seconds, CPU seconds and peak RSS (MiB) of CMD (children it waited
# for included), and the CPU seconds the server at SERVER_PID used for it.
RESULTS=()
measure() {
    local label=$1 server=$2; shift 2
    local start end s0 s1 user sys rss
    settle "$server"
    s0=$(cpu "$server")
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || {
        cat "$WORK/out" "$WORK/err" >&2; exit 2; }
    end=$(date +%s.%N)
    settle "$server"
    s1=$(cpu "$server")
    read -r user sys rss < <(tail -1 "$WORK/time")
    LAST_SECONDS=$(printf '%.2f' "$(echo "$end - $start" | bc)")
    LAST_CPU=$(printf '%.2f' "$(echo "$user + $sys" | bc)")
    LAST_SERVER_CPU=$(printf '%.2f' "$(echo "$s1 - $s0" | bc)")
    LAST_RSS=$((rss / 1024))
    echo "$label: ${LAST_SECONDS}s wall, tool ${LAST_CPU} CPU s, server ${LAST_SERVER_CPU} CPU s, peak RSS ${LAST_RSS} MiB" >&2
}
row() { RESULTS+=("| $1 | $LAST_SECONDS | $LAST_CPU | $LAST_SERVER_CPU | $2 | $LAST_RSS | $3 |"); }
size() { du -sb "$1" | awk '{print $1}'; }
pid_of() { echo "${SERVERS[$1]}"; }

start_server source 33061
SRC=$(pid_of source)
echo "loading $ROWS rows x 3 tables" >&2
sql 33061 "CREATE DATABASE bench; USE bench;
  CREATE TABLE bench.pk (id BIGINT PRIMARY KEY, a INT, b VARCHAR(100), c DATETIME, d DECIMAL(12,2), e TEXT,
    KEY by_a (a), KEY by_b (b));
  CREATE TABLE bench.composite (k1 INT, k2 INT, v VARCHAR(150), PRIMARY KEY (k1, k2));
  CREATE TABLE bench.nokey (a INT, b VARCHAR(150), c DOUBLE);
  INSERT INTO bench.pk SELECT seq, seq % 1000, MD5(seq), '2024-01-01' + INTERVAL seq SECOND, seq / 3,
    CONCAT(SHA2(seq, 256), '\t', seq) FROM seq_1_to_$ROWS;
  INSERT INTO bench.composite SELECT seq DIV 10, seq % 10, REPEAT(MD5(seq), 4) FROM seq_1_to_$ROWS;
  INSERT INTO bench.nokey SELECT seq, REPEAT(SHA1(seq), 3), seq * 1.5 FROM seq_1_to_$ROWS;
  ANALYZE TABLE bench.pk, bench.composite, bench.nokey;" >/dev/null
sql 33061 "FLUSH BINARY LOGS"
checksum() { sql "$1" "CHECKSUM TABLE bench.pk, bench.composite, bench.nokey EXTENDED" | awk '{print $2}' | tr '\n' ' '; }
SOURCE_SUM=$(checksum 33061)
DATA=$(sql 33061 "SELECT SUM(DATA_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA='bench'")
INDEX=$(sql 33061 "SELECT SUM(INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA='bench'")
echo "source data length: $DATA bytes, index length $INDEX bytes" >&2
same() { [ "$(checksum "$1")" = "$SOURCE_SUM" ] && echo equal || echo DIFFERENT; }

# Dumps, all of the same data.
mkdir -p "$WORK/cycle"
measure "bloodraven-backup dump" "$SRC" "$BIN" dump --to "file://$WORK/cycle/dump" --port 33061 \
    --threads "$THREADS" --bytes-per-chunk 33554432 --no-progress
row "bloodraven-backup dump (zstd)" "$(size "$WORK/cycle/dump")" "-"
measure "bloodraven-backup dump --compression none" "$SRC" "$BIN" dump --to "file://$WORK/brnone" --port 33061 \
    --threads "$THREADS" --bytes-per-chunk 33554432 --no-progress --compression none
row "bloodraven-backup dump --compression none" "$(size "$WORK/brnone")" "-"
rm -rf "$WORK/brnone"
head -c 32 /dev/urandom | base64 > "$WORK/passphrase"
measure "bloodraven-backup dump (zstd, BRV1)" "$SRC" "$BIN" dump --to "file://$WORK/brenc" --port 33061 \
    --threads "$THREADS" --bytes-per-chunk 33554432 --no-progress --passphrase-file "$WORK/passphrase"
row "bloodraven-backup dump (zstd, BRV1)" "$(size "$WORK/brenc")" "-"
if [ "${SKIP_PEERS:-0}" != 1 ]; then
measure "mydumper" "$SRC" mydumper -h 127.0.0.1 -P 33061 -u root -B bench -t "$THREADS" -c -r 200000 -o "$WORK/myd"
row "mydumper -c (gzip), -r 200000" "$(size "$WORK/myd")" "-"
measure "mariadb-dump | zstd" "$SRC" bash -c "mariadb-dump --no-defaults -h127.0.0.1 -P33061 -uroot \
    --single-transaction --databases bench | zstd -q -3 -T1 > '$WORK/dump.sql.zst'"
row "mariadb-dump \\| zstd -3" "$(size "$WORK/dump.sql.zst")" "-"
measure "mariadb-dump" "$SRC" bash -c "mariadb-dump --no-defaults -h127.0.0.1 -P33061 -uroot \
    --single-transaction --databases bench > '$WORK/dump.sql'"
row "mariadb-dump (plain SQL)" "$(size "$WORK/dump.sql")" "-"
rm -f "$WORK/dump.sql"
fi

# The plain restore and the verification, RUNS times each, alternating (each reported by its median wall
# time: on two cores one run of either moves by 10-20 %). The verification replays writes made after the
# dump: they go into the binlog archive first; then a throwaway server restores the dump and replays the
# archive to its latest transaction (the example prints its steps and their times).
sql 33061 "SET SESSION binlog_format = ROW; UPDATE bench.pk SET a = a + 1 WHERE id % 20 = 0; FLUSH BINARY LOGS"
"$EXAMPLE" archive 33061 "$WORK/source/binlog" "$WORK/cycle" "$THREADS" >&2
RESTORE_RUNS=()
VERIFY_RUNS=()
for run in $(seq 1 "$RUNS"); do
    start_server t1 33062
    measure "bloodraven-backup restore (run $run)" "$(pid_of t1)" "$BIN" restore --from "file://$WORK/cycle/dump" \
        --port 33062 --threads "$THREADS" --no-progress
    RESTORE_RUNS+=("$LAST_SECONDS|$LAST_CPU|$LAST_SERVER_CPU|$LAST_RSS|$(same 33062)")
    kill -9 "$(pid_of t1)"; rm -rf "$WORK/t1"
    measure "verification (run $run)" "$SRC" "$EXAMPLE" verify 33061 "$WORK/source/binlog" "$WORK/cycle" "$THREADS"
    grep -q "^verify: ok" "$WORK/out" || { cat "$WORK/out" >&2; exit 2; }
    grep "^verify phases" "$WORK/out" >&2
    VERIFY_RUNS+=("$LAST_SECONDS|$LAST_CPU|$LAST_SERVER_CPU|$LAST_RSS|$(grep "^verify phases" "$WORK/out")")
done
# median RUN...: the run (fields joined by |) with the median wall time.
median() { printf '%s\n' "$@" | sort -t'|' -k1,1n | sed -n "$((($# + 1) / 2))p"; }
IFS='|' read -r LAST_SECONDS LAST_CPU LAST_SERVER_CPU LAST_RSS RESTORE_SAME < <(median "${RESTORE_RUNS[@]}")
RESTORE_SECONDS=$LAST_SECONDS
row "bloodraven-backup restore (median of $RUNS)" "-" "$RESTORE_SAME"
start_server t1e 33067
measure "bloodraven-backup restore (BRV1)" "$(pid_of t1e)" "$BIN" restore --from "file://$WORK/brenc" --port 33067 \
    --threads "$THREADS" --no-progress --passphrase-file "$WORK/passphrase"
row "bloodraven-backup restore (BRV1)" "-" "$(same 33067)"
kill -9 "$(pid_of t1e)"; rm -rf "$WORK/t1e" "$WORK/brenc"
start_server t1b 33066
measure "bloodraven-backup restore --no-defer-indexes" "$(pid_of t1b)" "$BIN" restore \
    --from "file://$WORK/cycle/dump" --port 33066 --threads "$THREADS" --no-progress --no-defer-indexes
row "bloodraven-backup restore --no-defer-indexes" "-" "$(same 33066)"
kill -9 "$(pid_of t1b)"; rm -rf "$WORK/t1b"
if [ "${SKIP_PEERS:-0}" != 1 ]; then
start_server t2 33063
measure "myloader" "$(pid_of t2)" myloader -h 127.0.0.1 -P 33063 -u root -t "$THREADS" -d "$WORK/myd"
row "myloader" "-" "$(same 33063)"
kill -9 "$(pid_of t2)"; rm -rf "$WORK/t2" "$WORK/myd"
start_server t3 33064
measure "mariadb load" "$(pid_of t3)" bash -c "zstd -dc '$WORK/dump.sql.zst' | mariadb --no-defaults -h127.0.0.1 -P33064 -uroot"
row "zstd -d \\| mariadb" "-" "$(same 33064)"
kill -9 "$(pid_of t3)"; rm -rf "$WORK/t3"
fi

IFS='|' read -r LAST_SECONDS LAST_CPU LAST_SERVER_CPU LAST_RSS VERIFY_PHASES < <(median "${VERIFY_RUNS[@]}")
VERIFY_SECONDS=$LAST_SECONDS
row "verification (median of $RUNS): throwaway server + restore + replay of $((ROWS / 20)) row updates" "-" \
    "GTID and tables checked"

echo
echo "rows: 3 x $ROWS, source DATA_LENGTH $DATA bytes + INDEX_LENGTH $INDEX bytes, threads $THREADS, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "verification / restore wall time (medians): $(printf '%.2f' "$(echo "$VERIFY_SECONDS / $RESTORE_SECONDS" | bc -l)")"
echo "runs (wall s|tool CPU s|server CPU s|RSS MiB|...): restore ${RESTORE_RUNS[*]}"
printf 'verification %s\n' "${VERIFY_RUNS[@]}"
echo "median verification's $VERIFY_PHASES"
echo
echo "| step | wall s | tool CPU s | server CPU s | output bytes | peak RSS MiB (tool) | checksums vs source |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${RESULTS[@]}"
