#!/usr/bin/env bash
# One command from a fresh Debian machine: install, start berthd, run a container from the
# embedded default image (busybox:latest, made from the host's busybox-static).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh

SOCK=/run/berth/berth.sock
if ! node dist/berth.cjs -H "unix://$SOCK" version >/dev/null 2>&1; then
  mkdir -p /var/log
  # MALLOC_ARENA_MAX and --expose-gc as the berthd bin's shebang sets them (keep the RSS flat)
  MALLOC_ARENA_MAX=2 setsid node --expose-gc dist/src/daemon/main.js -H "unix://$SOCK" --pidfile /run/berth/berthd.pid >>/var/log/berthd.log 2>&1 < /dev/null &
  for _ in $(seq 100); do
    node dist/berth.cjs -H "unix://$SOCK" version >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
echo "berthd is running (socket $SOCK, log /var/log/berthd.log)"
node dist/berth.cjs run --rm busybox echo hello
