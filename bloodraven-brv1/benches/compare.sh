#!/usr/bin/env bash
# Encrypts the same 1 GiB file with brv1 (one thread, all cores) and with age, and measures
# OpenSSL's one-core AES-256-GCM speed, all in one run; prints MB/s (10^6 bytes/s), ratios and
# peak RSS. Needs `openssl`, `age` (Debian package `age`) and GNU `time` (Debian package `time`).
#
#   bash bloodraven-brv1/benches/compare.sh            # SIZE_MIB=1024 by default
#
# The input is random bytes in a temporary directory under /tmp, deleted at exit. Each tool
# reads the file and writes its output to a file beside it (no fsync); the best of RUNS runs
# counts. Other processes on the machine lower every figure alike; ratios are what to compare.
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

# best_of CMD...: runs CMD RUNS times (stdin: the input, stdout: a file beside it) and keeps
# the best wall-clock time, the best CPU time (user + system, all threads) and the largest
# peak RSS; sets WALL, CPU (both MB/s) and RSS_MIB.
best_of() {
    local wall="" cpu="" rss=0 e m u s c
    for _ in $(seq "$RUNS"); do
        cat "$work/input" >/dev/null # keep the input in the page cache
        /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$@" <"$work/input" >"$work/out"
        read -r e m u s <"$work/time"
        c=$(awk "BEGIN{print $u + $s}")
        if [ -z "$wall" ] || awk "BEGIN{exit !($e < $wall)}"; then wall=$e; fi
        if [ -z "$cpu" ] || awk "BEGIN{exit !($c < $cpu)}"; then cpu=$c; fi
        if [ "$m" -gt "$rss" ]; then rss=$m; fi
    done
    WALL=$(awk "BEGIN{printf \"%.0f\", $bytes / $wall / 1e6}")
    CPU=$(awk "BEGIN{printf \"%.0f\", $bytes / $cpu / 1e6}")
    RSS_MIB=$(awk "BEGIN{printf \"%.1f\", $rss / 1024}")
}

# OpenSSL's figure is per CPU second by default, per wall-clock second with -elapsed.
speed() { openssl speed "$@" -evp aes-256-gcm -bytes 65536 -seconds 3 2>/dev/null | awk '/^AES-256-GCM/ {sub("k", "", $2); printf "%.0f", $2 / 1000}'; }
OPENSSL_CPU=$(speed)
OPENSSL_WALL=$(speed -elapsed)

best_of "$BRV1" encrypt --threads 1 --passphrase-file "$work/pass"
B1=($WALL $CPU $RSS_MIB)
best_of "$BRV1" encrypt --threads "$cores" --passphrase-file "$work/pass"
BN=($WALL $CPU $RSS_MIB)
cp "$work/out" "$work/sealed"
best_of "$BRV1" decrypt --threads 1 --passphrase-file "$work/pass" "$work/sealed"
D1=($WALL $CPU $RSS_MIB)
best_of "$BRV1" decrypt --threads "$cores" --passphrase-file "$work/pass" "$work/sealed"
DN=($WALL $CPU $RSS_MIB)
rm -f "$work/sealed"
best_of age -r "$recipient"
AGE=($WALL $CPU $RSS_MIB)

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
row() { # name wall cpu rss [compare-with-age]
    local vs_age="" 
    if [ -n "${5:-}" ]; then vs_age="$(ratio "$2" "${AGE[0]}")/$(ratio "$3" "${AGE[1]}")"; fi
    printf '%-30s %9s %9s %17s %12s %10s\n' "$1" "$2" "$3" "$(ratio "$2" "$OPENSSL_WALL")/$(ratio "$3" "$OPENSSL_CPU")" "$vs_age" "$4"
}
echo "input: $SIZE_MIB MiB of random bytes, $cores cores, best of $RUNS runs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wall = MB per wall-clock second; cpu = MB per CPU second (user + system, all threads)"
printf '%-30s %9s %9s %17s %12s %10s\n' "tool" "wall MB/s" "cpu MB/s" "vs openssl w/c" "vs age w/c" "peak RSS"
printf '%-30s %9s %9s %17s %12s %10s\n' "openssl speed (1 core)" "$OPENSSL_WALL" "$OPENSSL_CPU" "1.00/1.00" "" ""
row "age -r (X25519) encrypt" "${AGE[@]}"
row "brv1 encrypt --threads 1" "${B1[@]}" age
row "brv1 encrypt --threads $cores" "${BN[@]}" age
row "brv1 decrypt --threads 1" "${D1[@]}"
row "brv1 decrypt --threads $cores" "${DN[@]}"
