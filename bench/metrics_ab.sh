#!/usr/bin/env bash
# What the metrics cost: bench/perf_ab.sh on one `rill` binary run twice, with the admin endpoint
# off (`admin.listener=` empty: no recorder is installed, every count is a no-op) and on, scraped
# once a second meanwhile (Prometheus' default is every 15 s; once a second makes the scrape's own
# work — asking the actors, rendering — show too).
#
#   bash bench/metrics_ab.sh target/release/rill [perf_ab.sh's flags: --runs 5 --records 500000 ...]
set -euo pipefail
bin="$(realpath "$1")"; shift
dir="$(mktemp -d /tmp/rill-metrics-ab.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/rill"
cat > "$dir/rill-metrics-off" <<SH
#!/bin/bash
if [ "\$1" = server ]; then exec "$dir/rill" "\$@" --override admin.listener=; fi
exec "$dir/rill" "\$@"
SH
cat > "$dir/rill-metrics-on" <<SH
#!/bin/bash
if [ "\$1" = server ]; then
  admin="\$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$dir/rill" "\$@" --override "admin.listener=127.0.0.1:\$admin" &
  child=\$!
  ( while kill -0 \$child 2>/dev/null; do
      curl -s -o /dev/null "http://127.0.0.1:\$admin/metrics" || true; sleep 1
    done ) &
  scraper=\$!
  trap 'kill \$child; wait \$child; kill \$scraper 2>/dev/null' TERM INT
  wait \$child
  exit
fi
exec "$dir/rill" "\$@"
SH
chmod +x "$dir/rill-metrics-off" "$dir/rill-metrics-on"
bash "$(dirname "$0")/perf_ab.sh" "$dir/rill-metrics-off" "$dir/rill-metrics-on" "$@"
