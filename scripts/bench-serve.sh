#!/usr/bin/env bash
# Serves DB with a release parley, waits for its first /health answer ("ready"), then drives it with
# `parley bench workflow` (C clients, N workflows, R timed reads of each kind) and stops it.
# Usage: scripts/bench-serve.sh DB [C] [N] [R] [SEARCH WORDS]
#   PARLEY=path/to/parley (default .build-release/release/parley: swift build -c release --product parley --scratch-path .build-release)
#   PORT (default 18080)
set -euo pipefail
db=$1; c=${2:-16}; n=${3:-2000}; reads=${4:-500}; search=${5:-refund}
bin=${PARLEY:-.build-release/release/parley}
port=${PORT:-18080}
start=$(date +%s.%N)
PARLEY_ADMIN_TOKEN=bench "$bin" serve --port "$port" --db "$db" --log-level error --rate-limit-per-token 100000000 > /dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/health" > /dev/null; do sleep 0.01; done
echo "ready in $(python3 -c "import time; print(round(time.time() - $start, 3))") s"
"$bin" bench workflow --url "http://127.0.0.1:$port" --token bench --concurrency "$c" --workflows "$n" --reads "$reads" \
  --search "$search" --pid "$pid"
