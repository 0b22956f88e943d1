#!/usr/bin/env bash
# What client quotas cost when they apply but never throttle: bench/perf_ab.sh on one `rill`
# binary run twice, without quotas and with a default client quota of 1 TB/s for produce and
# fetch and of 1,000,000 % of request time (every Produce and Fetch then resolves its byte
# quota, every request its request quota: each poll of its handling timed with two clock
# reads, a bucket updated; nothing is ever held).
#
#   bash bench/quota_ab.sh target/release/rill [perf_ab.sh's flags: --runs 3 --records 500000 ...]
set -euo pipefail
bin="$(realpath "$1")"; shift
dir="$(mktemp -d /tmp/rill-quota-ab.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/rill-off"
cat > "$dir/rill-quota-on" <<SH
#!/bin/bash
if [ "\$1" = server ]; then
  # perf_ab.sh passes --listeners PLAINTEXT://127.0.0.1:PORT: set the quota once it listens.
  port="\${3##*:}"
  "$dir/rill-off" "\$@" &
  child=\$!
  trap 'kill \$child; wait \$child' TERM INT
  for _ in \$(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/\$port") 2>/dev/null && break; sleep 0.1; done
  "$dir/rill-off" configs --bootstrap-server "127.0.0.1:\$port" --alter --entity-type clients \\
    --entity-default --add-config producer_byte_rate=1000000000000,consumer_byte_rate=1000000000000,request_percentage=1000000 >&2
  wait \$child
  exit
fi
exec "$dir/rill-off" "\$@"
SH
chmod +x "$dir/rill-quota-on"
bash "$(dirname "$0")/perf_ab.sh" "$dir/rill-off" "$dir/rill-quota-on" "$@"
