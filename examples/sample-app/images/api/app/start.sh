#!/bin/sh
# sample-app api: /healthz, /version, and /admin behind basic auth (user admin, the
# admin_password config item), served on 9000.
set -eu

version=$(cat /app/VERSION)
log_level=${LOG_LEVEL:-info}
password=${ADMIN_PASSWORD:-}

if [ -z "${password}" ]; then
    echo "api ${version}: ADMIN_PASSWORD is empty; refusing to start" >&2
    exit 1
fi
case "${password}" in
*"
"*)
    echo "api ${version}: ADMIN_PASSWORD has a line break; refusing to start" >&2
    exit 1
    ;;
esac

mkdir -p /www/admin
echo ok >/www/healthz
echo "${version}" >/www/version
echo "sample-app api ${version} admin page" >/www/admin/index.html
# busybox httpd's basic auth: one "/path:user:password" line, the password as an MD5
# crypt hash (its config cannot hold spaces or '#' in clear).
hash=$(printf '%s' "${password}" | mkpasswd -m md5 -P 0)
printf '/admin:admin:%s\n' "${hash}" >/etc/httpd.conf
chmod 600 /etc/httpd.conf
if [ "${log_level}" = debug ]; then
    echo "api ${version}: admin page at /admin" >&2
fi
echo "api ${version}: serving on :9000" >&2

httpd -f -p 9000 -h /www -c /etc/httpd.conf &
pid=$!
trap 'kill "${pid}" 2>/dev/null; exit 0' TERM INT
wait "${pid}"
