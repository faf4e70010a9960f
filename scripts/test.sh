#!/usr/bin/env bash
# The test command: installs what the tests need, builds, and runs the whole suite
# (real daemons on temporary sockets and data roots, real containers and mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# A test that hangs fails after 10 minutes instead of holding CI to its limit.
node --test --test-concurrency=1 --test-timeout=600000 dist/test/
