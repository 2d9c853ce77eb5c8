#!/usr/bin/env bash
# Prepares a Debian 12 machine for `make run` and `make test`: Debian packages, the npm trees of
# ui/ and tests/e2e/, and a running Docker daemon. Idempotent and silent when nothing is missing;
# it says what it does otherwise.
#
# Environment:
#   OUTPOST_SKIP_DOCKER=1   do not check or start the Docker daemon.
set -euo pipefail

# Work from the repository root whatever the caller's cwd.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly PACKAGES=(docker.io docker-registry busybox-static chromium chromium-driver shellcheck openssl tinyproxy)
readonly DOCKERD_LOG=/var/log/dockerd.log
readonly DOCKERD_PID=/var/run/docker.pid
readonly DOCKER_WAIT_SECONDS=60
readonly LOCK_STAMP=.outpost-lock-hash

say() { printf 'dev-setup: %s\n' "$*"; }
die() { printf 'dev-setup: error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ ${EUID} -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

package_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

ensure_packages() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        package_installed "${pkg}" || missing+=("${pkg}")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0

    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# `npm ci` in $1 when its node_modules is missing or was installed from another lock.
# The lock's hash is kept in node_modules/.outpost-lock-hash (mtimes lie after git checkouts);
# a tree without that stamp is adopted when npm's own record of it is newer than the lock.
ensure_npm_tree() {
    local dir=$1 want have=""
    [[ -f "${dir}/package.json" ]] || return 0
    [[ -f "${dir}/package-lock.json" ]] || die "${dir}/package-lock.json is missing (run npm install there and commit the lock)"
    command -v npm >/dev/null 2>&1 || die "npm not found (install Node.js 20+ with npm)"

    want=$(sha256sum "${dir}/package-lock.json" | cut -d' ' -f1)
    if [[ -f "${dir}/node_modules/${LOCK_STAMP}" ]]; then
        have=$(<"${dir}/node_modules/${LOCK_STAMP}")
    elif [[ "${dir}/node_modules/.package-lock.json" -nt "${dir}/package-lock.json" ]]; then
        # Installed by hand (npm install/ci) after the lock was last written: adopt it, stamp it.
        printf '%s\n' "${want}" >"${dir}/node_modules/${LOCK_STAMP}"
        return 0
    fi
    [[ "${want}" == "${have}" ]] && return 0

    if [[ -d "${dir}/node_modules" ]]; then
        say "npm ci in ${dir}/ (package-lock.json changed)"
    else
        say "npm ci in ${dir}/ (no node_modules yet)"
    fi
    (cd "${dir}" && npm ci --no-audit --no-fund --loglevel=error)
    printf '%s\n' "${want}" >"${dir}/node_modules/${LOCK_STAMP}"
}

docker_answers() {
    timeout 5 docker info >/dev/null 2>&1
}

dockerd_alive() {
    pgrep -x dockerd >/dev/null 2>&1
}

ensure_docker_daemon() {
    [[ "${OUTPOST_SKIP_DOCKER:-0}" == "1" ]] && return 0
    command -v docker >/dev/null 2>&1 || die "docker CLI not found although docker.io is installed"
    docker_answers && return 0

    local started_pid=""

    if dockerd_alive; then
        # A daemon is there but not answering yet (still starting): wait for it, do not start a second.
        say "dockerd is running but not answering yet; waiting up to ${DOCKER_WAIT_SECONDS}s"
    else
        if [[ -e "${DOCKERD_PID}" ]]; then
            say "removing stale ${DOCKERD_PID} (no dockerd process is alive)"
            as_root rm -f "${DOCKERD_PID}"
        fi
        say "starting dockerd (log: ${DOCKERD_LOG})"
        # setsid: the daemon must outlive this script and the make process group that ran it.
        as_root setsid dockerd >"${DOCKERD_LOG}" 2>&1 </dev/null &
        started_pid=$!
    fi

    local deadline=$((SECONDS + DOCKER_WAIT_SECONDS))
    until docker_answers; do
        # Our own child is watched by pid: right after the fork it is not named dockerd yet.
        if [[ -n "${started_pid}" ]] && ! kill -0 "${started_pid}" 2>/dev/null; then
            docker_failed "dockerd exited"
        elif [[ -z "${started_pid}" ]] && ! dockerd_alive; then
            docker_failed "the running dockerd exited"
        fi
        if ((SECONDS >= deadline)); then
            docker_failed "the Docker daemon did not answer within ${DOCKER_WAIT_SECONDS}s"
        fi
        sleep 1
    done
    say "dockerd is up"
}

docker_failed() {
    printf 'dev-setup: error: %s. Last lines of %s:\n' "$1" "${DOCKERD_LOG}" >&2
    tail -n 30 "${DOCKERD_LOG}" >&2 2>/dev/null || true
    exit 1
}

ensure_packages
ensure_npm_tree ui
ensure_npm_tree tests/e2e
ensure_docker_daemon
