#!/usr/bin/env bash
# A few seconds of the workflow load generator against a real server, so the harness cannot rot.
# Usage: bench_smoke.sh PATH_TO_PARLEY
set -euo pipefail
binary=$1
workdir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PARLEY_ADMIN_TOKEN=bench "$binary" serve --port "$port" --db "$workdir/parley.sqlite" --log-level error \
  --rate-limit-per-token 100000000 > "$workdir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$workdir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.1; done
if "$binary" bench workflow --url "http://127.0.0.1:$port" --token bench --concurrency 2 --seconds 2 --pid "$server"; then
  echo "bench-smoke: 1 passed, 0 failed"
else
  echo "bench-smoke: 0 passed, 1 failed"
  exit 1
fi
