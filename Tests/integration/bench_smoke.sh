#!/usr/bin/env bash
# A small run of every benchmark harness, so none can rot: fill a database with 2,000 conversations through
# the store, serve it, drive a few seconds of the workflow load generator plus the inbox and timeline reads
# against it (with its ceiling phase and live streams), the store's reads (inbox, timeline, search), the store's writes with their bare replay and a few bare SQLite batches. Checks that they run, never how fast.
# Usage: bench_smoke.sh PATH_TO_PARLEY
set -euo pipefail
binary=$1
workdir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$workdir"' EXIT
passed=0
failed=0
check() {  # check NAME COMMAND...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else echo "bench-smoke: $name failed"; failed=$((failed + 1)); fi
}
check fill "$binary" bench fill --db "$workdir/parley.sqlite" --conversations 2000 --batch 500 --orgs 20 --customers-per-org 5 --agents 5
check reads "$binary" bench reads --db "$workdir/parley.sqlite" --iterations 5
check sqlite "$binary" bench sqlite --batch 1 --batch 32 --rows 64 --directory "$workdir"
check store "$binary" bench store --concurrency 4 --workflows 40
# A short idle timeout: the load generator's setup connection, idle through the workflow phase, is closed
# before the read phase, as in any run longer than the default 60 s (it used to wait forever for an answer).
PARLEY_ADMIN_TOKEN=bench "$binary" serve --port "$port" --db "$workdir/parley.sqlite" --log-level error \
  --rate-limit-per-token 100000000 --idle-timeout 2 > "$workdir/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.1; done
check workflow timeout 120 "$binary" bench workflow --url "http://127.0.0.1:$port" --token bench --concurrency 2 --seconds 4 \
  --reads 20 --timeline-messages 10 --pid "$server"
# The ceiling phase, and live streams that must each receive every event of the workflow.
streams_ok() {
  "$binary" bench workflow --url "http://127.0.0.1:$port" --token bench --concurrency 2 --seconds 1 --workflows 20 \
    --phases ceiling,workflow --streams 3 --pid "$server" > "$workdir/streams.txt" &&
    grep -q "GET /health" "$workdir/streams.txt" &&
    grep -Eq "^streams: 3 open during the workflow, events received ([0-9]+)–\1, 3 up to the last event \([0-9]+\), all" "$workdir/streams.txt"
}
check streams streams_ok
# Clients spread over several servers (here the same one twice, as a SQLite file has one server).
spread_ok() {
  "$binary" bench workflow --url "http://127.0.0.1:$port" --also-url "http://127.0.0.1:$port" --token bench --concurrency 4 \
    --workflows 20 --phases workflow > "$workdir/spread.txt" &&
    grep -q "against http://127.0.0.1:$port, http://127.0.0.1:$port" "$workdir/spread.txt" &&
    grep -Eq "workflows 20 +errors 0" "$workdir/spread.txt"
}
check spread spread_ok
echo "bench-smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
