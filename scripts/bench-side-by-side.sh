#!/usr/bin/env bash
# The side-by-side run of BENCHMARKS.md: django-helpdesk (../shared/peers/django-helpdesk, installed from PyPI
# by its setup.sh) and then parley, each on a fresh database, the same N workflows at the same concurrency C.
# Usage: scripts/bench-side-by-side.sh [N] [C]     (needs a release parley: see scripts/bench-serve.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}; c=${2:-16}
peer=$(cd "${PEER_SCRIPTS:-../shared/peers/django-helpdesk}" && pwd)
export PEER_DIR=${PEER_DIR:-/tmp/peer}
(cd "$peer" && RESET_DB=1 ./setup.sh > "$PEER_DIR.setup.log" 2>&1)
pid=$(cd "$peer" && ./run.sh | head -1)
echo "== django-helpdesk 2.6.1 (gunicorn, 2 sync workers), N=$n C=$c"
"$PEER_DIR/venv/bin/python" -u "$peer/workload.py" --creds "$PEER_DIR/creds.json" -n "$n" -c "$c" --list-requests 100 --server-pid "$pid"
kill "$pid"
sleep 1
db=$(mktemp -d)/parley.sqlite
echo "== parley, N=$n C=$c"
scripts/bench-serve.sh "$db" "$c" "$n" 500
rm -rf "$(dirname "$db")"
