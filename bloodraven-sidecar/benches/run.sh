#!/usr/bin/env bash
# Sidecar benchmarks (docs/benchmarks.md, "bloodraven-sidecar"): the archiver end to end over >= 1 GiB of real
# MariaDB binlogs (local directory and loopback S3, plain and BRV1, against the copy floor and the BRV1 cipher rate
# of the same run, peak RSS of the sidecar process) and the fence latency over repeated partitions.
# Run from the repository root: bash bloodraven-sidecar/benches/run.sh
set -euo pipefail
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
echo "== archiver (SIDECAR_BENCH_MIB=${SIDECAR_BENCH_MIB:-1100}) $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench -p bloodraven-sidecar --bench archiver
echo "== fence latency (SIDECAR_BENCH_RUNS=${SIDECAR_BENCH_RUNS:-25}) $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench -p bloodraven-sidecar --bench fence_latency
