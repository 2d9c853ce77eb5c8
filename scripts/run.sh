#!/usr/bin/env bash
# `make run`: the sample vendor (images, registries, signed license and releases, and its api
# host), the console on embedded defaults, and a local agent joined as the primary node.
# Prints the console URL, the one-time setup link and where the sample license is.
# Ctrl-C stops everything this script started (the sample registries keep running; stop them
# with `scripts/sample-vendor.sh --stop`).
#
# Environment: DATA_DIR (default ./.outpost), LISTEN (0.0.0.0:8800), CLUSTER_LISTEN
# (0.0.0.0:9879), ADVERTISE_HOST (localhost).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT=$PWD
readonly BIN=${ROOT}/target/debug
readonly DATA_DIR=${DATA_DIR:-${ROOT}/.outpost}
readonly LISTEN=${LISTEN:-0.0.0.0:8800}
readonly CLUSTER_LISTEN=${CLUSTER_LISTEN:-0.0.0.0:9879}
readonly ADVERTISE_HOST=${ADVERTISE_HOST:-localhost}
readonly SAMPLE_DIR=${ROOT}/target/sample-vendor
readonly LOG_DIR=${DATA_DIR}/logs
readonly WAIT_SECONDS=60

say() { printf 'run: %s\n' "$*"; }
die() { printf 'run: error: %s\n' "$*" >&2; exit 1; }

pids=()
cleanup() {
    trap - EXIT INT TERM
    if ((${#pids[@]})); then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits (bounded) until FILE has a line matching PATTERN; prints the first match.
wait_for_line() {
    local file=$1 pattern=$2 what=$3 deadline=$((SECONDS + WAIT_SECONDS))
    until grep -m1 -E "${pattern}" "${file}" 2>/dev/null; do
        ((SECONDS < deadline)) || die "${what} did not start within ${WAIT_SECONDS}s; see ${file}"
        sleep 0.2
    done
}

mkdir -p "${LOG_DIR}"

say "preparing the sample vendor (images, registries, signed license and releases)"
scripts/sample-vendor.sh "${SAMPLE_DIR}" >"${LOG_DIR}/sample-vendor.log" 2>&1 \
    || die "the sample vendor failed; see ${LOG_DIR}/sample-vendor.log"
# shellcheck disable=SC1091
source "${SAMPLE_DIR}/sample-vendor.env"

"${BIN}/outpost-airgap" serve --root "${SAMPLE_VENDOR_DIR}" --listen "${SAMPLE_API_HOST#https://}" \
    --tls-cert "${SAMPLE_API_HOST_CERT}" --tls-key "${SAMPLE_API_HOST_KEY}" \
    >"${LOG_DIR}/api-host.out" 2>"${LOG_DIR}/api-host.log" &
pids+=($!)
wait_for_line "${LOG_DIR}/api-host.out" '^Serving ' "the sample api host" >/dev/null

# The console trusts the sample api host's CA (a real vendor's api host has a public
# certificate, so a real install needs no --api-host-ca).
"${BIN}/outpost-console" serve --data-dir "${DATA_DIR}" --listen "${LISTEN}" \
    --cluster-listen "${CLUSTER_LISTEN}" --advertise-host "${ADVERTISE_HOST}" \
    --api-host-ca "${SAMPLE_CA}" \
    >"${LOG_DIR}/console.out" 2>"${LOG_DIR}/console.log" &
pids+=($!)
console_pid=$!
wait_for_line "${LOG_DIR}/console.out" '^Console URL: ' "the console" >/dev/null

# The sample's images are named after Docker Hub, quay.io and the vendor's registry; here
# they come from the loopback registries standing in for them (Settings > Registries).
# shellcheck disable=SC2086 # one rule per word
"${BIN}/outpostctl" --data-dir "${DATA_DIR}" registries rules ${SAMPLE_MIRROR_RULES} >/dev/null \
    || die "could not set the sample registry rules"

# The primary node: join once, then reuse the identity on later runs.
agent_dir=${DATA_DIR}/agent
if [[ -f "${agent_dir}/node.json" ]]; then
    "${BIN}/outpost-agent" run --data-dir "${agent_dir}" \
        >"${LOG_DIR}/agent.out" 2>"${LOG_DIR}/agent.log" &
else
    join=$("${BIN}/outpostctl" --data-dir "${DATA_DIR}" nodes join-token --ttl 15m --label role=primary \
        | grep -m1 'outpost-agent join') || die "could not make a join token"
    token=${join##*--token }
    cluster_url=$(grep -m1 '^Agent channel: ' "${LOG_DIR}/console.out")
    "${BIN}/outpost-agent" join --console "${cluster_url#Agent channel: }" --token "${token}" \
        --data-dir "${agent_dir}" >"${LOG_DIR}/agent.out" 2>"${LOG_DIR}/agent.log" &
fi
pids+=($!)
wait_for_line "${LOG_DIR}/agent.out" 'connected' "the local agent" >/dev/null

echo
cat "${LOG_DIR}/console.out"
cat <<EOT

Sample vendor
  api host:         ${SAMPLE_API_HOST}
  license file:     ${SAMPLE_LICENSE}
  vendor key:       ${SAMPLE_KEY_FINGERPRINT}
                    (confirm this fingerprint when you load the license)
Primary node:       joined (outpostctl --data-dir ${DATA_DIR} nodes)
Registry rules:     ${SAMPLE_MIRROR_RULES}
Logs:               ${LOG_DIR}/

From the browser: open the setup link and set a password; License: load the license file
above and confirm the fingerprint; Deploy: "Fetch releases from the vendor"; Config: set a
greeting and the API admin password; Deploy 1.0.0. The app answers on http://localhost:8080/.
Updates: "Check now" syncs the license and finds newer releases (checks also run hourly);
Network: the ports and hosts this install needs, checked live; Outbound log: what was sent.

Ctrl-C stops the console, the agent and the api host.
EOT
wait "${console_pid}"
