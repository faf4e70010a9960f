#!/usr/bin/env bash
# Installs everything Berth needs on a fresh Debian 12 machine (as root) and builds it.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  crun runc conmon           # OCI runtimes and the per-container monitor
  busybox-static tini        # the embedded default image and the --init binary (tini-static)
  golang-github-containers-common  # /usr/share/containers/seccomp.json (Docker-format default profile)
  attr                       # setfattr/getfattr: overlay whiteouts, opaque dirs, layer xattrs
  procps util-linux mount    # ps (docker top), mount/umount, unshare (network namespaces)
  netavark aardvark-dns iptables iproute2  # networks: bridges, NAT and port rules, names (podman's stack)
  golang-github-docker-docker-dev  # moby's api/swagger.yaml: the build generates types and validators from it
  # test peers: dockerd (started by the tests on their own sockets), distribution 2.8's registry,
  # htpasswd for its basic auth, openssl for a test PKI, skopeo and umoci for the interop tests
  docker.io docker-registry apache2-utils openssl skopeo umoci
  chromium                   # the web view's tests and bench drive it headless (playwright-core)
  python3-docker             # docker-py, a client library the tests drive against berthd
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d 101: installed packages must not start their services (dockerd would take docker0
  # and iptables, docker-registry port 5000); the tests start their own, on their own sockets/ports.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Berth needs Node.js 20 or newer" >&2
  exit 1
fi
# `npm install`, not `npm ci`: node-unix-socket lists prebuilt optional packages for other platforms
# that the registry here does not serve, which `npm ci` treats as an out-of-sync lock file.
npm install --no-audit --no-fund --loglevel=error
npm run --silent build
