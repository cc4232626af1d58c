#!/usr/bin/env bash
# Encrypts the same 1 GiB file with brv1 (one thread, all cores) and with age, decrypts it with
# brv1, and measures OpenSSL's one-core AES-256-GCM speed, all in one run; prints MB/s (10^6
# bytes/s), ratios and peak RSS. Needs `openssl`, `age` (Debian package `age`) and GNU `time`
# (Debian package `time`).
#
#   SIZE_MIB=1024 RUNS=3 bash bloodraven-brv1/benches/compare.sh
#
# brv1 is the release build of this tree's `brv1` binary, run as a user runs it:
# `brv1 encrypt --passphrase-file F <input >output` (age: `age -r RECIPIENT <input >output`).
# The input is random bytes in a temporary directory under /tmp, deleted at exit, and kept in
# the page cache. Before every run the previous output is deleted and `sync` writes back what
# is dirty, so each tool writes a fresh file into a quiet page cache (no tool pays for another's
# writeback or for truncating an old output); nobody fsyncs. The runs are interleaved (round r
# runs every tool once, odd rounds in reverse order) so that load from other processes and
# whatever a run leaves behind hit all tools alike; the best run of each counts, and the median
# is printed beside it. Other processes on the machine lower
# every figure; the load average is printed with the results.
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release -p bloodraven-brv1 --bin brv1
BRV1="$CARGO_TARGET_DIR/release/brv1"
for tool in openssl age age-keygen /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

work=$(mktemp -d /tmp/brv1-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
head -c $((SIZE_MIB << 20)) /dev/urandom >"$work/input"
printf 'benchmark passphrase\n' >"$work/pass"
age-keygen -o "$work/key" 2>/dev/null
recipient=$(age-keygen -y "$work/key")
bytes=$((SIZE_MIB << 20))
cores=$(nproc)
"$BRV1" encrypt --passphrase-file "$work/pass" <"$work/input" >"$work/sealed"

# The tools, in the order of the table: name, input, command.
names=("age -r (X25519) encrypt" "brv1 encrypt --threads 1" "brv1 encrypt --threads $cores"
    "brv1 decrypt --threads 1" "brv1 decrypt --threads $cores")
inputs=(input input input sealed sealed)
commands=("age -r $recipient"
    "$BRV1 encrypt --threads 1 --passphrase-file $work/pass"
    "$BRV1 encrypt --threads $cores --passphrase-file $work/pass"
    "$BRV1 decrypt --threads 1 --passphrase-file $work/pass"
    "$BRV1 decrypt --threads $cores --passphrase-file $work/pass")

# One line per run in $work/times: tool index, wall seconds, user, system, peak RSS KiB.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
n=${#commands[@]}
for round in $(seq 0 $((RUNS - 1))); do
    for k in $(seq 0 $((n - 1))); do
        i=$((round % 2 ? n - 1 - k : k)) # odd rounds backwards: no tool always follows the same one
        rm -f "$work/out"
        sync
        cat "$work/${inputs[$i]}" >/dev/null # keep the input in the page cache
        # shellcheck disable=SC2086 # the command is split into words on purpose
        /usr/bin/time -f "$i %e %U %S %M" -a -o "$work/times" ${commands[$i]} <"$work/${inputs[$i]}" >"$work/out"
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# stats I: sets WALL and CPU (MB/s of the best run; CPU = user + system, all threads), WALL_MED
# and CPU_MED (MB/s of the median run) and RSS_MIB (largest peak RSS) of tool I.
stats() {
    read -r WALL WALL_MED CPU CPU_MED RSS_MIB < <(awk -v i="$1" -v b="$bytes" '
        function t(x) { return x < 0.01 ? 0.01 : x } # GNU time has 10 ms resolution
        $1 == i { n++; w[n] = t($2); c[n] = t($3 + $4); if ($5 > m) m = $5 }
        END {
            asort(w); asort(c); mid = int((n + 1) / 2)
            printf "%.0f %.0f %.0f %.0f %.1f\n", b / w[1] / 1e6, b / w[mid] / 1e6, b / c[1] / 1e6, b / c[mid] / 1e6, m / 1024
        }' "$work/times")
}

# OpenSSL's figure is per CPU second by default, per wall-clock second with -elapsed.
speed() { openssl speed "$@" -evp aes-256-gcm -bytes 65536 -seconds 3 2>/dev/null | awk '/^AES-256-GCM/ {sub("k", "", $2); printf "%.0f", $2 / 1000}'; }
OPENSSL_CPU=$(speed)
OPENSSL_WALL=$(speed -elapsed)

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
stats 0
AGE_WALL=$WALL AGE_CPU=$CPU
built="brv1 release build of commit $(git log -1 --format=%h -- bloodraven-brv1 2>/dev/null || echo '?')"
if ! git diff --quiet HEAD -- bloodraven-brv1 2>/dev/null; then built="$built plus uncommitted changes"; fi
echo "$built"
echo "input: $SIZE_MIB MiB of random bytes, $cores cores, best (median) of $RUNS interleaved runs"
echo "load average: $load_before before the runs, $load_after after; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "wall = MB per wall-clock second; cpu = MB per CPU second (user + system, all threads)"
fmt='%-30s %16s %16s %15s %11s %9s\n'
printf "$fmt" "tool" "wall MB/s (med)" "cpu MB/s (med)" "vs openssl w/c" "vs age w/c" "peak RSS"
printf "$fmt" "openssl speed (1 core)" "$OPENSSL_WALL" "$OPENSSL_CPU" "1.00/1.00" "" ""
for i in "${!names[@]}"; do
    stats "$i"
    vs_age=""
    case "${names[$i]}" in "brv1 encrypt"*) vs_age="$(ratio "$WALL" "$AGE_WALL")/$(ratio "$CPU" "$AGE_CPU")" ;; esac
    printf "$fmt" "${names[$i]}" "$WALL ($WALL_MED)" "$CPU ($CPU_MED)" \
        "$(ratio "$WALL" "$OPENSSL_WALL")/$(ratio "$CPU" "$OPENSSL_CPU")" "$vs_age" "$RSS_MIB MiB"
done
