#!/bin/sh
# sample-app worker: every few seconds each of WORKERS workers appends a line to
# /data/worker.log (a named volume) and the loop stamps /data/heartbeat.
set -eu

version=$(cat /app/VERSION)
workers=${WORKERS:-2}
log_level=${LOG_LEVEL:-info}
interval=${INTERVAL:-5}

case "${workers}" in
'' | *[!0-9]*)
    echo "worker ${version}: WORKERS must be a number, not '${workers}'" >&2
    exit 1
    ;;
esac

mkdir -p /data
trap 'echo "worker ${version}: stopping" >&2; exit 0' TERM INT
echo "worker ${version}: ${workers} workers writing to /data/worker.log" >&2
round=0
while :; do
    round=$((round + 1))
    i=1
    while [ "${i}" -le "${workers}" ]; do
        echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) worker ${i}/${workers} round ${round} version ${version}" >>/data/worker.log
        i=$((i + 1))
    done
    date +%s >/data/heartbeat
    # Keep the log bounded: the last 1000 lines.
    if [ "$(wc -l </data/worker.log)" -gt 2000 ]; then
        tail -n 1000 /data/worker.log >/data/worker.log.tmp
        mv /data/worker.log.tmp /data/worker.log
    fi
    if [ "${log_level}" = debug ]; then
        echo "worker ${version}: round ${round} done" >&2
    fi
    sleep "${interval}" &
    wait $! || true
done
