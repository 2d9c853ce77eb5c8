#!/bin/sh
# sample-app web: writes the home page from the admin's greeting, then serves /www on 8080.
# /healthz answers "ok" unless this build is marked BROKEN (the 1.2.0 rollback test).
set -eu

version=$(cat /app/VERSION)
greeting=${GREETING:-Hello}
log_level=${LOG_LEVEL:-info}

# HTML-escape stdin: the greeting is the admin's text.
escape() {
    sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}

mkdir -p /www
cp -R /app/www/. /www/
{
    printf '<!doctype html>\n<html><head><meta charset="utf-8">\n'
    printf '<title>sample-app %s</title><link rel="stylesheet" href="/style.css"></head>\n' "${version}"
    printf '<body>\n<h1 id="greeting">%s</h1>\n' "$(printf '%s' "${greeting}" | escape)"
    printf '<p id="version">sample-app web %s</p>\n' "${version}"
    if [ -f /app/banner.html ]; then cat /app/banner.html; fi
    printf '</body></html>\n'
} >/www/index.html

if [ -e /app/BROKEN ]; then
    rm -f /www/healthz
    echo "web ${version}: this build has no /healthz (its healthcheck fails on purpose)" >&2
else
    echo ok >/www/healthz
fi
if [ "${log_level}" = debug ]; then
    echo "web ${version}: greeting is '${greeting}'" >&2
fi
echo "web ${version}: serving on :8080" >&2

# httpd in the background and a TERM trap, so `docker stop` is immediate.
httpd -f -p 8080 -h /www &
pid=$!
trap 'kill "${pid}" 2>/dev/null; exit 0' TERM INT
wait "${pid}"
