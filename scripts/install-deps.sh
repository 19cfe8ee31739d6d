#!/usr/bin/env bash
# scripts/install-deps.sh: the Debian 12 packages ima builds against (see README, "Dependencies").
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends $(cat .ci/packages.txt) >/dev/null
# npm: Debian's package conflicts with a Node.js installed from elsewhere; install it only when absent
command -v npm >/dev/null || $SUDO apt-get install -y -q --no-install-recommends npm >/dev/null
