#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine (idempotent: skips what is present):
# * rustfmt + clippy (rustup components; run-all.sh checks formatting and the I/O-boundary lint);
# * kcat (the real-client suite and tests/cli_tools.rs drive it);
# * the openssl CLI (tests/cli_security.rs makes its test certificates with it);
# * python3-venv (the Python clients live in .venv, created by tests/clients/run.sh, which then
#   pip-installs tests/clients/requirements.txt from PyPI);
# * Node.js and npm (tests/clients/test_kafkajs.py; its first run `npm install`s kafkajs from the
#   npm registry into tests/clients/kafkajs/node_modules).
# * make, a C++ compiler and zlib's headers (tests/upstream/librdkafka.sh builds librdkafka's
#   own test runner).
# * chromium (tests/clients/test_console.py loads the admin endpoint's web console in it,
#   headless, and saves a screenshot).
# System packages come from apt-get (Debian/Ubuntu), as root or through sudo. Elsewhere, install
# them yourself; this script then only checks.
set -euo pipefail

rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy || true

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "tests/setup.sh: '$*' is missing and apt-get is not available; install it and re-run" >&2
    exit 1
  fi
  [ -n "$apt_updated" ] || { $sudo apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

command -v kcat >/dev/null || apt_install kcat
command -v openssl >/dev/null || apt_install openssl
# librdkafka's own tests build from source (tests/upstream/librdkafka.sh).
command -v make >/dev/null || apt_install make
command -v c++ >/dev/null || apt_install g++
[ -f /usr/include/zlib.h ] || apt_install zlib1g-dev
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
command -v node >/dev/null || apt_install nodejs
# Debian's nodejs comes without npm; NodeSource's includes it (and conflicts with Debian's npm).
command -v npm >/dev/null || apt_install npm
command -v chromium >/dev/null || apt_install chromium
