#!/usr/bin/env bash
# Property-based fuzzing of the whole API with schemathesis (from PyPI), driven by Parley's own
# GET /openapi.json: no request may get a 5xx, and every response must match the description.
# Usage: fuzz_test.sh PATH_TO_PARLEY   (bounded: 10 examples per operation, a few minutes at most)
# Left out: the event stream (it never ends), the test clock, and auth-tokens.delete (its `{}` revokes the
# very token the fuzzer uses, DevRev's meaning, and every later request would be a 401).
set -euo pipefail
binary=$1
python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
workdir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PARLEY_ADMIN_TOKEN=fuzz-admin "$binary" serve --port "$port" --db "$workdir/parley.sqlite" --test-clock --log-level error \
  --rate-limit-per-token 100000000 --rate-limit-per-address 100000000 > "$workdir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$workdir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.1; done
status=0
timeout 600 schemathesis run "http://127.0.0.1:$port/openapi.json" -H "Authorization: Bearer fuzz-admin" \
  --phases coverage,fuzzing -n 10 --seed 1 --workers 2 \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path /events.stream --exclude-path /test-clock.advance \
  --exclude-path /auth-tokens.delete > "$workdir/schemathesis.log" 2>&1 || status=$?
grep -E "generated|Selected|Tested|FAILED|Failed|server error" "$workdir/schemathesis.log" | head -20 || true
if [ "$status" -ne 0 ]; then
  tail -60 "$workdir/schemathesis.log"
fi
cases=$(grep -oE "[0-9]+ generated" "$workdir/schemathesis.log" | grep -oE "[0-9]+" | head -1 || echo 0)
if [ "$status" -eq 0 ]; then echo "fuzz-test: ${cases:-0} passed, 0 failed"; else echo "fuzz-test: 0 passed, 1 failed"; fi
exit "$status"
