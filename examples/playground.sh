#!/usr/bin/env bash
# The playground on a fresh Debian/Ubuntu machine: installs MariaDB when it is missing, builds the operator, the
# sidecar, the archive and backup tools, and runs `bloodraven playground` (extra arguments are passed on, e.g.
# `--scenario all` or `--port 0`). Ctrl-C stops everything and removes what it created.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    echo "installing mariadb-server (the playground runs its own servers; the packaged one is stopped)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null
    $sudo systemctl disable --now mariadb >/dev/null 2>&1 || $sudo service mariadb stop >/dev/null 2>&1 || true
fi

cargo build --release -p bloodraven-operator --bin bloodraven \
    -p bloodraven-sidecar --bin bloodraven-sidecar \
    -p bloodraven-binlog --bin bloodraven-binlog \
    -p bloodraven-backup --bin bloodraven-backup

exec "${CARGO_TARGET_DIR:-target}/release/bloodraven" playground "$@"
