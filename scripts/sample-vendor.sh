#!/usr/bin/env bash
# The sample vendor (examples/sample-app/README.md): builds the sample app's images from
# busybox-static, runs three loopback registries (a Docker Hub mirror, a quay.io mirror, and
# the vendor's private registry with TLS and htpasswd), pushes the images, and with
# target/debug/outpost-airgap makes the vendor key, a license, signed releases of 1.0.0,
# 1.1.0 and 1.2.0, and publishes 1.0.0 and 1.1.0 on the stable channel.
#
# Idempotent: a second run reuses the running registries, the images, the key, the license
# and the releases, and changes nothing that is already right.
#
# Usage:
#   scripts/sample-vendor.sh [OUTDIR]          set everything up (default target/sample-vendor)
#   scripts/sample-vendor.sh --stop [OUTDIR]   stop the registries
#
# Environment:
#   OUTPOST_AIRGAP=PATH   the outpost-airgap binary to use (default: build target/debug/outpost-airgap)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$(pwd)
readonly REPO_ROOT
readonly APP_SOURCES=${REPO_ROOT}/examples/sample-app

readonly VERSIONS=(1.0.0 1.1.0 1.2.0)
readonly PUBLISHED=(1.0.0 1.1.0)
readonly SERVICES=(web api worker)
readonly APP_ID=sample-app
readonly CHANNEL=stable
readonly CUSTOMER="Sample Customer"
readonly LICENSE_ID=sample-customer
readonly API_HOST_PORT=8801
readonly API_HOST=https://127.0.0.1:${API_HOST_PORT}
readonly HUB_PORT=5101
readonly QUAY_PORT=5102
readonly PRIVATE_PORT=5103
readonly PRIVATE_HOST=127.0.0.1:${PRIVATE_PORT}
readonly PRIVATE_USER=outpost-vendor
# The vendor's registry as its images name it; the mirror rule below points it at PRIVATE_HOST.
readonly VENDOR_REGISTRY=registry.outpost.test
readonly MIRROR_RULES=(
    "docker.io=127.0.0.1:${HUB_PORT}"
    "quay.io=127.0.0.1:${QUAY_PORT}"
    "${VENDOR_REGISTRY}=${PRIVATE_HOST}"
)
readonly CERTS_D=/etc/docker/certs.d/${PRIVATE_HOST}
readonly WAIT_SECONDS=30
readonly ROOTFS_LABEL=org.outpost.sample.rootfs

say() { printf 'sample-vendor: %s\n' "$*"; }
die() {
    printf 'sample-vendor: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

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

# ---------------------------------------------------------------------------------------
# Names.

# The repository an image is pushed to (its mirror), and its name as the app names it.
mirror_repo() {
    case $1 in
    web) echo "127.0.0.1:${HUB_PORT}/outpost-samples/web" ;;
    api) echo "127.0.0.1:${QUAY_PORT}/outpost-samples/api" ;;
    worker) echo "${PRIVATE_HOST}/sample/worker" ;;
    *) die "unknown service $1" ;;
    esac
}

canonical_repo() {
    case $1 in
    web) echo "docker.io/outpost-samples/web" ;;
    api) echo "quay.io/outpost-samples/api" ;;
    worker) echo "registry.outpost.test/sample/worker" ;;
    *) die "unknown service $1" ;;
    esac
}

exposed_port() {
    case $1 in
    web) echo 8080 ;;
    api) echo 9000 ;;
    *) echo "" ;;
    esac
}

sequence_of() {
    local i
    for i in "${!VERSIONS[@]}"; do
        if [[ ${VERSIONS[i]} == "$1" ]]; then
            echo $((i + 1))
            return
        fi
    done
    die "unknown version $1"
}

# ---------------------------------------------------------------------------------------
# Checks.

require_tools() {
    local tool
    for tool in docker docker-registry openssl perl tar curl sha256sum flock ss; do
        command -v "${tool}" >/dev/null 2>&1 ||
            die "${tool} is missing (scripts/dev-setup.sh installs what this needs)"
    done
    [[ -x /bin/busybox ]] || die "/bin/busybox is missing: install busybox-static (scripts/dev-setup.sh)"
    timeout 10 docker info >/dev/null 2>&1 ||
        die "the Docker daemon does not answer: run scripts/dev-setup.sh"
}

# The outpost-airgap binary: $OUTPOST_AIRGAP, or target/debug/outpost-airgap built now.
find_airgap() {
    if [[ -n ${OUTPOST_AIRGAP:-} ]]; then
        [[ -x ${OUTPOST_AIRGAP} ]] || die "OUTPOST_AIRGAP=${OUTPOST_AIRGAP} is not executable"
        AIRGAP=${OUTPOST_AIRGAP}
        return
    fi
    say "building outpost-airgap"
    cargo build --quiet -p outpost-airgap --bin outpost-airgap ||
        die "cannot build outpost-airgap"
    AIRGAP=${REPO_ROOT}/target/debug/outpost-airgap
}

# Waits (bounded) until URL answers HTTP status WANT; extra curl arguments follow.
wait_for_http() {
    local url=$1 want=$2 name=$3
    shift 3
    local deadline=$((SECONDS + WAIT_SECONDS)) status
    while :; do
        status=$(curl --silent --output /dev/null --max-time 2 --write-out '%{http_code}' "$@" "${url}" || true)
        [[ ${status} == "${want}" ]] && return 0
        ((SECONDS < deadline)) || die "${name} did not answer ${want} on ${url} within ${WAIT_SECONDS} s (last: ${status:-nothing}); see its log in ${OUTDIR}/registries/${name}/registry.log"
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------------------
# The sample CA (private registry and api host certificates) and the registry secrets.

make_ca() {
    local dir=${OUTDIR}/ca
    [[ -f ${dir}/ca.crt && -f ${dir}/ca.key ]] && return 0
    say "creating the sample CA in ${dir}"
    mkdir -p "${dir}"
    chmod 700 "${dir}"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=Outpost sample vendor CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "${dir}/ca.key" -out "${dir}/ca.crt" 2>/dev/null
    chmod 644 "${dir}/ca.crt"
}

# A server certificate for 127.0.0.1 and localhost, signed by the sample CA, in DIR.
make_server_cert() {
    local dir=$1
    [[ -f ${dir}/server.crt && -f ${dir}/server.key ]] && return 0
    mkdir -p "${dir}"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=127.0.0.1" -keyout "${dir}/server.key" -out "${dir}/server.csr" 2>/dev/null
    openssl x509 -req -in "${dir}/server.csr" -CA "${OUTDIR}/ca/ca.crt" -CAkey "${OUTDIR}/ca/ca.key" \
        -CAcreateserial -days 825 -out "${dir}/server.crt" \
        -extfile <(printf '%s\n' \
            "subjectAltName=IP:127.0.0.1,DNS:localhost" \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth") 2>/dev/null
    rm -f "${dir}/server.csr"
    chmod 600 "${dir}/server.key"
}

# The private registry's password (random, kept) and its bcrypt htpasswd line.
make_private_credentials() {
    local dir=${OUTDIR}/registries/private salt hash
    mkdir -p "${dir}"
    if [[ ! -s ${dir}/password ]]; then
        (umask 077 && openssl rand -hex 16 >"${dir}/password")
    fi
    if [[ ! -s ${dir}/htpasswd || ${dir}/password -nt ${dir}/htpasswd ]]; then
        # distribution reads bcrypt only; libcrypt (through perl's crypt) makes it.
        salt=$(openssl rand -base64 48 | tr -dc './A-Za-z0-9' | head -c 22)
        hash=$(SAMPLE_PASSWORD=$(<"${dir}/password") SAMPLE_SALT=${salt} \
            perl -e 'print crypt($ENV{SAMPLE_PASSWORD}, q($2b$10$) . $ENV{SAMPLE_SALT})')
        [[ ${hash} == "\$2b\$"* ]] || die "this system's crypt() cannot make bcrypt hashes"
        printf '%s:%s\n' "${PRIVATE_USER}" "${hash}" >"${dir}/htpasswd"
    fi
}

# ---------------------------------------------------------------------------------------
# Registries.

registry_pid() {
    local pidfile=${OUTDIR}/registries/$1/registry.pid pid
    [[ -f ${pidfile} ]] || return 1
    pid=$(<"${pidfile}")
    [[ ${pid} =~ ^[0-9]+$ ]] || return 1
    # Only our registry counts: a recycled pid running something else does not.
    tr '\0' ' ' 2>/dev/null <"/proc/${pid}/cmdline" |
        grep -qF "docker-registry serve ${OUTDIR}/registries/$1/config.yml" || return 1
    echo "${pid}"
}

write_registry_config() {
    local name=$1 port=$2 dir=${OUTDIR}/registries/$1
    mkdir -p "${dir}/data"
    if [[ ! -s ${dir}/http-secret ]]; then
        (umask 077 && openssl rand -hex 16 >"${dir}/http-secret")
    fi
    {
        echo "version: 0.1"
        echo "log:"
        echo "  level: info"
        echo "  accesslog:"
        echo "    disabled: true"
        echo "storage:"
        echo "  filesystem:"
        echo "    rootdirectory: ${dir}/data"
        echo "  delete:"
        echo "    enabled: true"
        echo "http:"
        echo "  addr: 127.0.0.1:${port}"
        echo "  secret: $(<"${dir}/http-secret")"
        if [[ ${name} == private ]]; then
            echo "  tls:"
            echo "    certificate: ${dir}/tls/server.crt"
            echo "    key: ${dir}/tls/server.key"
            echo "auth:"
            echo "  htpasswd:"
            echo "    realm: outpost-sample-private"
            echo "    path: ${dir}/htpasswd"
        fi
    } >"${dir}/config.yml.new"
    mv "${dir}/config.yml.new" "${dir}/config.yml"
}

# The sample vendor of another OUTDIR (another checkout's tests or `make run`) holds the
# port: its registry is stopped (its data stays), since the ports are fixed.
stop_foreign_registry() {
    local name=$1 port=$2 pid config
    pid=$(ss -Hltnp "sport = :${port}" | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2) || return 0
    [[ -n ${pid} ]] || return 0
    config=$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null) || return 0
    [[ ${config} == "docker-registry serve "*"/registries/${name}/config.yml"* ]] || return 0
    say "stopping the sample registry ${name} of another OUTDIR on port ${port} (pid ${pid}: ${config% })"
    kill "${pid}" 2>/dev/null || return 0
    local deadline=$((SECONDS + WAIT_SECONDS))
    while [[ $(ss -Hltn "sport = :${port}" | wc -l) -gt 0 ]]; do
        ((SECONDS < deadline)) || die "the registry of another OUTDIR on port ${port} did not stop"
        sleep 0.2
    done
}

start_registry() {
    local name=$1 port=$2 dir=${OUTDIR}/registries/$1 pid
    write_registry_config "${name}" "${port}"
    if pid=$(registry_pid "${name}"); then
        say "registry ${name} already runs on 127.0.0.1:${port} (pid ${pid})"
        return 0
    fi
    if [[ $(ss -Hltn "sport = :${port}" | wc -l) -gt 0 ]]; then
        stop_foreign_registry "${name}" "${port}"
    fi
    if [[ $(ss -Hltn "sport = :${port}" | wc -l) -gt 0 ]]; then
        die "port ${port} is taken by another process; stop it, or stop a sample vendor of another OUTDIR (scripts/sample-vendor.sh --stop DIR)"
    fi
    say "starting registry ${name} on 127.0.0.1:${port}"
    # setsid: the registry outlives this script and its terminal; sh writes its own pid,
    # which exec keeps for docker-registry. It must not inherit the lock (fd 9), or it
    # would hold it for as long as it runs.
    # shellcheck disable=SC2016 # expanded by that sh, not here
    setsid sh -c 'echo $$ >"$1"; exec docker-registry serve "$2"' sh \
        "${dir}/registry.pid" "${dir}/config.yml" </dev/null >>"${dir}/registry.log" 2>&1 9>&- &
    local deadline=$((SECONDS + WAIT_SECONDS))
    until registry_pid "${name}" >/dev/null; do
        ((SECONDS < deadline)) || die "registry ${name} did not start; see ${dir}/registry.log"
        sleep 0.1
    done
}

start_registries() {
    make_ca
    make_server_cert "${OUTDIR}/registries/private/tls"
    make_private_credentials
    start_registry hub "${HUB_PORT}"
    start_registry quay "${QUAY_PORT}"
    start_registry private "${PRIVATE_PORT}"
    wait_for_http "http://127.0.0.1:${HUB_PORT}/v2/" 200 hub
    wait_for_http "http://127.0.0.1:${QUAY_PORT}/v2/" 200 quay
    wait_for_http "https://${PRIVATE_HOST}/v2/" 401 private --cacert "${OUTDIR}/ca/ca.crt"

    # Docker trusts the private registry through certs.d.
    if ! cmp -s "${OUTDIR}/ca/ca.crt" "${CERTS_D}/ca.crt"; then
        say "installing the sample CA in ${CERTS_D}/ca.crt"
        as_root mkdir -p "${CERTS_D}"
        as_root cp "${OUTDIR}/ca/ca.crt" "${CERTS_D}/ca.crt"
    fi
    # Log in with a Docker config of our own, so the user's stays untouched.
    mkdir -p "${DOCKER_CFG}"
    chmod 700 "${DOCKER_CFG}"
    local output
    output=$(docker --config "${DOCKER_CFG}" login --username "${PRIVATE_USER}" --password-stdin \
        "${PRIVATE_HOST}" <"${OUTDIR}/registries/private/password" 2>&1) ||
        die "docker login to ${PRIVATE_HOST} failed: ${output}"
}

stop_registries() {
    local name pid deadline
    for name in hub quay private; do
        if ! pid=$(registry_pid "${name}"); then
            rm -f "${OUTDIR}/registries/${name}/registry.pid"
            continue
        fi
        say "stopping registry ${name} (pid ${pid})"
        kill "${pid}" 2>/dev/null || true
        deadline=$((SECONDS + 10))
        while kill -0 "${pid}" 2>/dev/null; do
            if ((SECONDS >= deadline)); then
                kill -KILL "${pid}" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
        rm -f "${OUTDIR}/registries/${name}/registry.pid"
    done
    if [[ -f ${CERTS_D}/ca.crt ]] && cmp -s "${OUTDIR}/ca/ca.crt" "${CERTS_D}/ca.crt"; then
        as_root rm -rf "${CERTS_D}"
    fi
    say "registries stopped (data kept in ${OUTDIR}/registries)"
}

# ---------------------------------------------------------------------------------------
# Images.

# The rootfs of SERVICE at VERSION in DIR: busybox and its applets, the service's files,
# then each version's changes up to VERSION, and the version itself in /app/VERSION.
make_rootfs() {
    local service=$1 version=$2 rootfs=$3 applet v
    mkdir -p "${rootfs}"/{bin,etc,tmp,data,www,app}
    cp /bin/busybox "${rootfs}/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [[ ${applet} == busybox ]] || ln -s busybox "${rootfs}/bin/${applet}"
    done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
        >"${rootfs}/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"${rootfs}/etc/group"
    cp -R "${APP_SOURCES}/images/${service}/app/." "${rootfs}/app/"
    for v in "${VERSIONS[@]}"; do
        if [[ -d ${APP_SOURCES}/images/${service}/${v} ]]; then
            cp -R "${APP_SOURCES}/images/${service}/${v}/." "${rootfs}/"
        fi
        [[ ${v} == "${version}" ]] && break
    done
    printf '%s\n' "${version}" >"${rootfs}/app/VERSION"
    # Modes and times are fixed, so the same sources make the same tar.
    find "${rootfs}" -type d -exec chmod 755 {} +
    find "${rootfs}/app" "${rootfs}/etc" -type f -exec chmod 644 {} +
    find "${rootfs}/app" -name '*.sh' -exec chmod 755 {} +
    chmod 755 "${rootfs}/bin/busybox"
    chmod 1777 "${rootfs}/tmp"
}

# The rootfs label of a local image, empty when there is no such image.
image_rootfs_label() {
    docker image inspect --format "{{ index .Config.Labels \"${ROOTFS_LABEL}\" }}" "$1" 2>/dev/null || true
}

build_image() {
    local service=$1 version=$2 work hash ref port
    ref=$(mirror_repo "${service}"):${version}
    work=$(mktemp -d "${OUTDIR}/build.XXXXXX")
    make_rootfs "${service}" "${version}" "${work}/rootfs"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
        -C "${work}/rootfs" -cf "${work}/rootfs.tar" .
    hash=$(sha256sum "${work}/rootfs.tar" | cut -c1-64)

    if [[ $(image_rootfs_label "${ref}") != "${hash}" ]]; then
        # Not here (or other sources): the registry may hold it from an earlier run, and
        # taking it keeps its digest, so releases already signed stay right.
        timeout 120 docker --config "${DOCKER_CFG}" pull --quiet "${ref}" >/dev/null 2>&1 || true
    fi
    if [[ $(image_rootfs_label "${ref}") == "${hash}" ]]; then
        say "image ${ref} is up to date"
    else
        say "building image ${ref}"
        port=$(exposed_port "${service}")
        local changes=(
            --change "ENV PATH=/bin"
            --change "WORKDIR /app"
            --change 'CMD ["/bin/sh", "/app/start.sh"]'
            --change "LABEL ${ROOTFS_LABEL}=${hash}"
            --change "LABEL org.opencontainers.image.title=${APP_ID}-${service}"
            --change "LABEL org.opencontainers.image.version=${version}"
        )
        [[ -n ${port} ]] && changes+=(--change "EXPOSE ${port}")
        docker import "${changes[@]}" "${work}/rootfs.tar" "${ref}" >/dev/null ||
            die "docker import of ${ref} failed"
    fi
    # The app's own name too, so the image runs locally as compose.yaml names it.
    docker tag "${ref}" "$(canonical_repo "${service}"):${version}"
    rm -rf "${work}"
}

push_image() {
    local ref
    ref=$(mirror_repo "$1"):$2
    timeout 300 docker --config "${DOCKER_CFG}" push --quiet "${ref}" >/dev/null ||
        die "docker push ${ref} failed"
}

build_and_push_images() {
    local service version
    for version in "${VERSIONS[@]}"; do
        for service in "${SERVICES[@]}"; do
            build_image "${service}" "${version}"
            push_image "${service}" "${version}"
        done
    done
    say "pushed ${#SERVICES[@]} images x ${#VERSIONS[@]} versions to their registries"
}

# ---------------------------------------------------------------------------------------
# The vendor side: key, license, releases, channel.

make_key() {
    if [[ -f ${OUTDIR}/keys/vendor.key ]]; then
        return 0
    fi
    say "creating the vendor key in ${OUTDIR}/keys"
    "${AIRGAP}" keygen --out "${OUTDIR}/keys" >/dev/null
}

# The key id (hex SHA-256 of the 32 public key bytes), as keygen prints it.
fingerprint() {
    awk '{print $2}' "${OUTDIR}/keys/vendor.pub" | base64 -d | sha256sum | cut -c1-64
}

issue_license() {
    local license=${OUTDIR}/licenses/${LICENSE_ID}.license
    local password=${OUTDIR}/registries/private/password
    local stamp=${OUTDIR}/licenses/.${LICENSE_ID}.inputs
    # What the license says besides its dates: a change re-issues it.
    local inputs="${APP_ID} ${CHANNEL} ${API_HOST} ${VENDOR_REGISTRY} ${PRIVATE_USER}"
    if [[ -f ${license} && ${license} -nt ${password} && ${license} -nt ${OUTDIR}/keys/vendor.key &&
        -f ${stamp} && $(<"${stamp}") == "${inputs}" ]]; then
        return 0
    fi
    say "issuing the license ${LICENSE_ID} for ${CUSTOMER}"
    mkdir -p "${OUTDIR}/licenses"
    "${AIRGAP}" license issue \
        --key "${OUTDIR}/keys/vendor.key" \
        --customer "${CUSTOMER}" \
        --app "${APP_ID}" \
        --channel "${CHANNEL}" \
        --expires "$(date -u -d '+1 year' +%Y-%m-%d)" \
        --airgap \
        --max-nodes 5 \
        --api-host "${API_HOST}" \
        --registry-host "${VENDOR_REGISTRY}" \
        --registry-user "${PRIVATE_USER}" \
        --registry-password-file "${password}" \
        --license-id "${LICENSE_ID}" \
        --root "${OUTDIR}/vendor" \
        --out "${license}" >/dev/null
    printf '%s\n' "${inputs}" >"${stamp}"
}

# What a release of VERSION is made of: the app folder, the images' ids, the key.
release_inputs() {
    local version=$1 service
    {
        (cd "${APP_SOURCES}/${version}" && sha256sum compose.yaml outpost.yaml)
        for service in "${SERVICES[@]}"; do
            docker image inspect --format '{{.Id}}' "$(mirror_repo "${service}"):${version}"
        done
        cat "${OUTDIR}/keys/vendor.pub"
    } | sha256sum | cut -c1-64
}

create_release() {
    local version=$1 sequence out stamp inputs rule
    sequence=$(sequence_of "${version}")
    out=${OUTDIR}/releases/${APP_ID}-${version}.release.json
    stamp=${OUTDIR}/releases/.${APP_ID}-${version}.inputs
    inputs=$(release_inputs "${version}")
    if [[ -f ${out} && -f ${stamp} && $(<"${stamp}") == "${inputs}" ]]; then
        return 0
    fi
    say "signing release ${version} (sequence ${sequence})"
    mkdir -p "${OUTDIR}/releases"
    local mirrors=()
    for rule in "${MIRROR_RULES[@]}"; do
        mirrors+=(--registry-mirror "${rule}")
    done
    "${AIRGAP}" release create \
        --app "${APP_SOURCES}/${version}" \
        --channel "${CHANNEL}" \
        --sequence "${sequence}" \
        --key "${OUTDIR}/keys/vendor.key" \
        --out "${out}" \
        "${mirrors[@]}" \
        --registry-auth "${PRIVATE_HOST}=${PRIVATE_USER}:${OUTDIR}/registries/private/password" \
        --registry-ca "${PRIVATE_HOST}=${OUTDIR}/ca/ca.crt" | sed 's/^/    /'
    printf '%s\n' "${inputs}" >"${stamp}"
}

publish_release() {
    local version=$1 sequence file published index
    sequence=$(sequence_of "${version}")
    file=${OUTDIR}/releases/${APP_ID}-${version}.release.json
    published=${OUTDIR}/vendor/releases/${APP_ID}/${sequence}.json
    index=${OUTDIR}/vendor/channels/${APP_ID}/${CHANNEL}/index.json
    if cmp -s "${file}" "${published}"; then
        # Published: refresh the index only when it nears its expiry (14 days).
        if [[ ${version} == "${PUBLISHED[-1]}" && -n $(find "${index}" -mtime +7 2>/dev/null) ]]; then
            say "refreshing the ${CHANNEL} channel index"
        else
            return 0
        fi
    elif [[ -f ${published} ]]; then
        die "release ${version} (sequence ${sequence}) was published with other content (its images were rebuilt?); remove ${OUTDIR} and run again to start afresh"
    else
        say "publishing release ${version} on ${CHANNEL}"
    fi
    "${AIRGAP}" channel publish --root "${OUTDIR}/vendor" --release "${file}" \
        --key "${OUTDIR}/keys/vendor.key" >/dev/null
}

make_api_host_cert() {
    make_server_cert "${OUTDIR}/api-host/tls"
}

# ---------------------------------------------------------------------------------------
# Output.

summary() {
    local version sequence state fp
    fp=$(fingerprint)
    cat >"${OUTDIR}/sample-vendor.env" <<EOF
# Written by scripts/sample-vendor.sh: where the sample vendor's things are.
SAMPLE_OUTDIR=${OUTDIR}
SAMPLE_VENDOR_DIR=${OUTDIR}/vendor
SAMPLE_KEY=${OUTDIR}/keys/vendor.key
SAMPLE_PUBKEY=${OUTDIR}/keys/vendor.pub
SAMPLE_KEY_FINGERPRINT=${fp}
SAMPLE_LICENSE=${OUTDIR}/licenses/${LICENSE_ID}.license
SAMPLE_RELEASES=${OUTDIR}/releases
SAMPLE_UNPUBLISHED_RELEASE=${OUTDIR}/releases/${APP_ID}-${VERSIONS[-1]}.release.json
SAMPLE_CA=${OUTDIR}/ca/ca.crt
SAMPLE_API_HOST=${API_HOST}
SAMPLE_API_HOST_CERT=${OUTDIR}/api-host/tls/server.crt
SAMPLE_API_HOST_KEY=${OUTDIR}/api-host/tls/server.key
SAMPLE_HUB_MIRROR=127.0.0.1:${HUB_PORT}
SAMPLE_QUAY_MIRROR=127.0.0.1:${QUAY_PORT}
SAMPLE_PRIVATE_REGISTRY=${PRIVATE_HOST}
SAMPLE_PRIVATE_USER=${PRIVATE_USER}
SAMPLE_PRIVATE_PASSWORD_FILE=${OUTDIR}/registries/private/password
SAMPLE_MIRROR_RULES="${MIRROR_RULES[*]}"
EOF
    echo
    echo "Sample vendor ready in ${OUTDIR}"
    echo "  vendor dir       ${OUTDIR}/vendor"
    echo "  vendor key       ${OUTDIR}/keys/vendor.key (public: vendor.pub)"
    echo "  key fingerprint  ${fp}"
    echo "  license          ${OUTDIR}/licenses/${LICENSE_ID}.license (${CUSTOMER}, app ${APP_ID}, channel ${CHANNEL}, api host ${API_HOST})"
    for version in "${VERSIONS[@]}"; do
        sequence=$(sequence_of "${version}")
        state="unpublished"
        if cmp -s "${OUTDIR}/releases/${APP_ID}-${version}.release.json" \
            "${OUTDIR}/vendor/releases/${APP_ID}/${sequence}.json"; then
            state="published on ${CHANNEL}"
        fi
        echo "  release ${version}    ${OUTDIR}/releases/${APP_ID}-${version}.release.json (sequence ${sequence}, ${state})"
    done
    echo "  registries       docker.io mirror http://127.0.0.1:${HUB_PORT}, quay.io mirror http://127.0.0.1:${QUAY_PORT},"
    echo "                   private https://${PRIVATE_HOST} (user ${PRIVATE_USER}, password file ${OUTDIR}/registries/private/password, CA ${OUTDIR}/ca/ca.crt)"
    echo "  mirror rules     ${MIRROR_RULES[*]}"
    echo "  api host         ${AIRGAP} serve --root ${OUTDIR}/vendor --listen 127.0.0.1:${API_HOST_PORT} \\"
    echo "                     --tls-cert ${OUTDIR}/api-host/tls/server.crt --tls-key ${OUTDIR}/api-host/tls/server.key"
    echo "  all of the above ${OUTDIR}/sample-vendor.env"
    echo "Stop the registries: scripts/sample-vendor.sh --stop ${OUTDIR}"
}

# ---------------------------------------------------------------------------------------

main() {
    local stop=false outdir="" version
    while [[ $# -gt 0 ]]; do
        case $1 in
        --stop) stop=true ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*) die "unknown option $1 (see --help)" ;;
        *)
            [[ -z ${outdir} ]] || die "one OUTDIR only (see --help)"
            outdir=$1
            ;;
        esac
        shift
    done
    outdir=${outdir:-${REPO_ROOT}/target/sample-vendor}
    mkdir -p "${outdir}"
    OUTDIR=$(cd "${outdir}" && pwd)
    readonly OUTDIR
    readonly DOCKER_CFG=${OUTDIR}/docker-config

    # One run at a time per OUTDIR.
    exec 9>"${OUTDIR}/.lock"
    flock --wait 120 9 || die "another sample-vendor run holds ${OUTDIR}/.lock"

    if [[ ${stop} == true ]]; then
        stop_registries
        return 0
    fi

    require_tools
    find_airgap
    start_registries
    build_and_push_images
    make_key
    issue_license
    make_api_host_cert
    for version in "${VERSIONS[@]}"; do
        create_release "${version}"
    done
    for version in "${PUBLISHED[@]}"; do
        publish_release "${version}"
    done
    summary
}

main "$@"
