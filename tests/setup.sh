#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine (idempotent: skips what is present):
# rustfmt + clippy, kcat (Debian; the real-client suite drives it), python3-venv (the Python
# clients live in .venv, created by tests/clients/run.sh).
set -euo pipefail
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy || true
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
command -v kcat >/dev/null || apt_install kcat
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
