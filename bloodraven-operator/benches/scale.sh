#!/usr/bin/env bash
# scale.sh: one `bloodraven` manager running N groups of simulated sites (`--simulate-sites`, feature `sim`)
# against a real Kubernetes API server (v1.20 from ../shared/tools/k8s-from-debian.sh). For each N it creates N
# groups (two sites each, default pollInterval 2 s) and N Secrets in a fresh namespace, starts the manager on that
# namespace, waits until every group has status.activeSite, then measures a window: the manager's CPU seconds and
# RSS from /proc, its polls from its own /metrics (bloodraven_poll_latency_seconds_count), and the API server's
# requests from its /metrics (apiserver_request_total, by verb and resource). Prints one table per N and the verdict
# against issue 11's target: 500 groups in <= 1 core and <= 256 MiB, no status write when nothing changed.
#
# Usage: bloodraven-operator/benches/scale.sh            (from the workspace root or anywhere)
# Environment:
#   SCALE_N        group counts (default "10 100 500")
#   SCALE_WINDOW   measured seconds per N (default 60)
#   SCALE_SETTLE   seconds between "all Ready" and the window (default 15)
#   SCALE_K8S      private (default): its own control plane on ports 26443/33790 under /tmp/bloodraven-bench-k8s,
#                  so the API server's request counts are this manager's alone (plus the controller-manager's);
#                  stopped and cleaned at the end. shared: the machine's shared one (counts include other users).
#   K8S_DEB_BIN_CACHE  the control plane's binary cache (default /var/cache/bloodraven/k8s)
#   CARGO_TARGET_DIR   where the release binary is built (default: the workspace's target/)
#   SCALE_BIN      an already built `bloodraven` with feature sim (skips the build)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
k8s_script=$(cd "$root/.." && pwd)/shared/tools/k8s-from-debian.sh
[[ -f $k8s_script ]] || { echo "scale.sh: $k8s_script not found" >&2; exit 1; }
SCALE_N=${SCALE_N:-"10 100 500"}
SCALE_WINDOW=${SCALE_WINDOW:-60}
SCALE_SETTLE=${SCALE_SETTLE:-15}
SCALE_K8S=${SCALE_K8S:-private}
export K8S_DEB_BIN_CACHE=${K8S_DEB_BIN_CACHE:-/var/cache/bloodraven/k8s}
target=${CARGO_TARGET_DIR:-$root/target}
bin=${SCALE_BIN:-$target/release/bloodraven}
work=$(mktemp -d /tmp/bloodraven-scale.XXXXXX)
log() { printf '[scale %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if [[ -z ${SCALE_BIN:-} ]]; then
  log "building $bin (release, feature sim)"
  (cd "$root" && cargo build --release -p bloodraven-operator --features sim --bin bloodraven >&2)
fi

case $SCALE_K8S in
private)
  export K8S_DEB_HOME=/tmp/bloodraven-bench-k8s K8S_DEB_API_PORT=26443 K8S_DEB_ETCD_PORT=33790
  # Each group takes three Service IPs: 500 groups need more than the script's default /24.
  export K8S_DEB_APISERVER_ARGS=${K8S_DEB_APISERVER_ARGS:---service-cluster-ip-range=10.96.0.0/16}
  lock=/tmp/bloodraven-bench-k8s.lock
  ;;
shared) lock=/tmp/bloodraven-k8s-from-debian.lock ;;
*) echo "scale.sh: SCALE_K8S must be private or shared, not $SCALE_K8S" >&2; exit 1 ;;
esac
log "bringing up the $SCALE_K8S control plane"
# flock -o: the servers the script starts must not inherit the lock.
kubeconfig=$(flock -o "$lock" bash "$k8s_script" up | tail -n1)
kc() { kubectl --kubeconfig "$kubeconfig" "$@"; }

manager_pid=
namespace=
cleanup() {
  set +e
  if [[ -n $namespace ]]; then
    # The manager removes the finalizers, then the namespace can go.
    kc -n "$namespace" delete mysqlfailovergroups.shipstream.io --all --wait=false >/dev/null 2>&1
    for _ in $(seq 120); do
      [[ -z $(kc -n "$namespace" get mysqlfailovergroups.shipstream.io -o name 2>/dev/null) ]] && break
      sleep 1
    done
  fi
  [[ -n $manager_pid ]] && kill "$manager_pid" 2>/dev/null && wait "$manager_pid" 2>/dev/null
  # This control plane runs no PVC-protection controller: clear its finalizer, or the namespace never goes.
  if [[ -n $namespace ]]; then
    for pvc in $(kc -n "$namespace" get pvc -o name 2>/dev/null); do
      kc -n "$namespace" patch "$pvc" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
    done
    kc delete namespace "$namespace" --wait=false >/dev/null 2>&1
  fi
  manager_pid= namespace=
}
finish() {
  cleanup
  if [[ $SCALE_K8S == private ]]; then
    bash "$k8s_script" stop >/dev/null 2>&1
    bash "$k8s_script" clean >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap finish EXIT

log "installing the CRDs"
"$bin" crds >"$work/crds.yaml"
kc replace --validate=false -f "$work/crds.yaml" >/dev/null 2>&1 || kc create --validate=false -f "$work/crds.yaml" >/dev/null
until kc get mysqlfailovergroups.shipstream.io -A >/dev/null 2>&1; do sleep 1; done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# utime + stime of a process, in seconds.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# apiserver_request_total summed by verb and resource[/subresource]: "VERB RESOURCE COUNT" lines.
api_requests() {
  kc get --raw /metrics | awk '
    /^apiserver_request_total\{/ {
      verb = ""; res = ""; sub_ = ""
      if (match($0, /verb="[^"]*"/)) verb = substr($0, RSTART + 6, RLENGTH - 7)
      if (match($0, /resource="[^"]*"/)) res = substr($0, RSTART + 10, RLENGTH - 11)
      if (match($0, /subresource="[^"]*"/)) sub_ = substr($0, RSTART + 13, RLENGTH - 14)
      if (res == "") { res = sub_; sub_ = "" }
      if (sub_ != "") res = res "/" sub_
      n[verb " " res] += $NF
    }
    END { for (k in n) print k, n[k] }' | sort
}
# Polls of all groups so far: bloodraven_poll_latency_seconds has one series per site, and every group has two.
polls() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk '/^bloodraven_poll_latency_seconds_count/ { s += $NF } END { print s / 2 }'
}

groups_yaml() { # namespace n
  local i
  for ((i = 0; i < $2; i++)); do
    cat <<YAML
---
apiVersion: v1
kind: Secret
metadata: { name: g$i-operator, namespace: $1 }
stringData: { username: root, password: bench }
---
apiVersion: shipstream.io/v1alpha1
kind: MysqlFailoverGroup
metadata: { name: g$i, namespace: $1 }
spec:
  image: mariadb:11.4
  credentials: { operatorSecret: g$i-operator }
  dns: { hostname: g$i.example.test }
  sites:
    - { name: a, zone: a, storage: { storageClassName: local, size: 1Gi } }
    - { name: b, zone: b, storage: { storageClassName: local, size: 1Gi } }
YAML
  done
}

summary=()
for n in $SCALE_N; do
  namespace=bench-scale-$n-$$
  log "N=$n: namespace $namespace"
  kc create namespace "$namespace" >/dev/null
  groups_yaml "$namespace" "$n" >"$work/groups.yaml"
  kc create -f "$work/groups.yaml" >/dev/null
  metrics_port=$(free_port)
  KUBECONFIG=$kubeconfig RUST_LOG=${RUST_LOG:-warn} "$bin" --namespace "$namespace" --simulate-sites \
    --metrics-bind-address "127.0.0.1:$metrics_port" --health-probe-bind-address 0 --aux-bind-address 0 \
    2>"$work/manager-$n.log" &
  manager_pid=$!
  started=$SECONDS
  log "N=$n: manager pid $manager_pid; waiting until every group has status.activeSite"
  while :; do
    ready=$(kc -n "$namespace" get mysqlfailovergroups.shipstream.io \
      -o jsonpath='{range .items[*]}{.status.activeSite}{"\n"}{end}' | grep -c . || true)
    [[ $ready -ge $n ]] && break
    kill -0 "$manager_pid" 2>/dev/null || { tail -n 20 "$work/manager-$n.log" >&2; exit 1; }
    ((SECONDS - started < 1200)) || { log "N=$n: only $ready/$n Ready after 20 min"; exit 1; }
    sleep 2
  done
  ready_after=$((SECONDS - started))
  log "N=$n: all Ready after ${ready_after}s; settling ${SCALE_SETTLE}s, then measuring ${SCALE_WINDOW}s"
  sleep "$SCALE_SETTLE"
  api_requests >"$work/api-before"
  polls_before=$(polls "$metrics_port")
  cpu_before=$(cpu_seconds "$manager_pid")
  t0=$(date +%s.%N)
  sleep "$SCALE_WINDOW"
  cpu_after=$(cpu_seconds "$manager_pid")
  t1=$(date +%s.%N)
  polls_after=$(polls "$metrics_port")
  api_requests >"$work/api-after"
  rss_kib=$(status_kib "$manager_pid" VmRSS)
  hwm_kib=$(status_kib "$manager_pid" VmHWM)
  threads=$(status_kib "$manager_pid" Threads)
  load=$(cut -d' ' -f1-3 /proc/loadavg)

  join -a2 -e0 -o '0,1.2,2.2' <(awk '{print $1"|"$2, $3}' "$work/api-before") \
    <(awk '{print $1"|"$2, $3}' "$work/api-after") |
    awk '{ d = $3 - $2; if (d > 0) { split($1, k, "|"); printf "%s %s %d\n", k[1], k[2], d } }' |
    sort -k3,3nr >"$work/api-delta"
  awk -v n="$n" -v w="$SCALE_WINDOW" -v c0="$cpu_before" -v c1="$cpu_after" -v t0="$t0" -v t1="$t1" \
    -v p0="$polls_before" -v p1="$polls_after" -v rss="$rss_kib" -v hwm="$hwm_kib" -v ready="$ready_after" \
    -v loadavg="$load" -v threads="$threads" -v api="$work/api-delta" '
    BEGIN {
      secs = t1 - t0; cpu = c1 - c0; polls = p1 - p0
      while ((getline line < api) > 0) {
        split(line, f, " ")
        if (f[1] != "WATCH") { total += f[3] }
        if (f[2] == "mysqlfailovergroups/status" && (f[1] == "PATCH" || f[1] == "UPDATE")) status += f[3]
        rows = rows sprintf("    %-7s %-36s %6d  %8.4f/poll\n", f[1], f[2], f[3], polls ? f[3] / polls : 0)
      }
      printf "\n== N = %d groups (2 simulated sites each, pollInterval 2s): window %.1f s, Ready after %d s, load average %s\n", n, secs, ready, loadavg
      printf "  manager CPU      %.2f s = %.3f cores; per group %.2f millicores\n", cpu, cpu / secs, 1000 * cpu / secs / n
      printf "  manager RSS      steady %.1f MiB, peak %.1f MiB; per group %.1f KiB (steady RSS / N); %d threads\n", rss / 1024, hwm / 1024, rss / n, threads
      printf "  polls            %d (%.1f/s; expected %.1f/s)\n", polls, polls / secs, n / 2
      printf "  API requests     %d non-watch = %.4f per poll; status writes %d (PATCH/UPDATE of mysqlfailovergroups/status)\n", total, polls ? total / polls : 0, status
      printf "  by verb and resource (all clients of this API server):\n%s", rows
      ok = (n < 500) || (cpu / secs <= 1.0 && hwm / 1024 <= 256 && status == 0)
      if (n >= 500) printf "  verdict          %s (target: 500 groups in <= 1 core, <= 256 MiB, no status write when nothing changed)\n", ok ? "MET" : "NOT MET"
      printf "SUMMARY %d %.3f %.2f %.1f %.1f %.4f %d %s\n", n, cpu / secs, 1000 * cpu / secs / n, rss / 1024, hwm / 1024, polls ? total / polls : 0, status, loadavg > "/dev/stderr"
    }' 2>>"$work/summary"
  cleanup
done
echo
echo "| N | cores | millicores/group | RSS steady MiB | RSS peak MiB | API requests/poll | status writes | load avg |"
echo "|---|---|---|---|---|---|---|---|"
sed 's/^SUMMARY //' "$work/summary" | awk '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s %s %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
