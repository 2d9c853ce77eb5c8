#!/bin/sh
# sample-app metrics (the optional `metrics` profile): a Prometheus-style page on 9100,
# refreshed every 5 seconds.
set -eu

version=$(cat /app/VERSION)
mkdir -p /metrics-www
started=$(date +%s)

refresh() {
    now=$(date +%s)
    {
        echo "# TYPE sample_app_info gauge"
        echo "sample_app_info{version=\"${version}\"} 1"
        echo "# TYPE sample_app_uptime_seconds gauge"
        echo "sample_app_uptime_seconds $((now - started))"
    } >/metrics-www/metrics.tmp
    mv /metrics-www/metrics.tmp /metrics-www/metrics
}

refresh
echo "metrics ${version}: serving on :9100" >&2
httpd -f -p 9100 -h /metrics-www &
pid=$!
trap 'kill "${pid}" 2>/dev/null; exit 0' TERM INT
while kill -0 "${pid}" 2>/dev/null; do
    refresh
    sleep 5 &
    wait $! || true
done
