#!/usr/bin/env bash
# What per-request ACL checks cost: bench/perf_ab.sh on one `rill` binary run twice, without an
# authorizer and with one that checks every request fully (authorizer.class.name set, no super
# user, no ACL, allow.everyone.if.no.acl.found=true: each Produce and Fetch takes the whole
# lookup and is then allowed).
#
#   bash bench/acl_ab.sh target/release/rill [perf_ab.sh's flags: --runs 3 --records 500000 ...]
set -euo pipefail
bin="$(realpath "$1")"; shift
dir="$(mktemp -d /tmp/rill-acl-ab.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/rill-off"
cat > "$dir/rill-acl-on" <<SH
#!/bin/sh
if [ "\$1" = server ]; then
  shift
  exec "$dir/rill-off" server "\$@" \\
    --override authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer \\
    --override allow.everyone.if.no.acl.found=true
fi
exec "$dir/rill-off" "\$@"
SH
chmod +x "$dir/rill-acl-on"
bash "$(dirname "$0")/perf_ab.sh" "$dir/rill-off" "$dir/rill-acl-on" "$@"
