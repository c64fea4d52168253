#!/usr/bin/env bash
# The workflow benchmark on one SQLite server, one PostgreSQL server, or two PostgreSQL servers (half the
# clients on each), with the servers' and PostgreSQL's CPU per workflow. Needs a PostgreSQL whose role
# parley (password parley) may create databases: by default on 127.0.0.1:55432 with the superuser postgres
# over TCP; for a `scripts/pg-cluster start DIR` cluster:
#   PGURL_BASE=postgres://parley:parley@127.0.0.1:$(cat DIR/port) PSQL_ADMIN="psql -h DIR -p $(cat DIR/port) -U postgres"
# and through its unix socket rather than TCP: PGURL_BASE=postgres://parley@:$(cat DIR/port) PGURL_QUERY="?host=DIR"
# usage: [SERVE_FLAGS="--database-connections 4"] scripts/bench-postgres.sh BIN MODE C N   (MODE: sqlite | pg1 | pg2 | pg2-two-generators)
# pg2: two servers, one load generator spreading its C clients over both (as a load balancer would);
# pg2-two-generators: two servers, a load generator of C/2 clients for each (the method before 2026-12-03).
set -u
BIN=$1; MODE=$2; C=$3; N=$4
PGURL_BASE=${PGURL_BASE:-postgres://parley:parley@127.0.0.1:55432}
PSQL_ADMIN=${PSQL_ADMIN:-psql -h 127.0.0.1 -p 55432 -U postgres}
DB=bench_$$_$RANDOM
# CPU seconds of every PostgreSQL process now (ticks from /proc: ps's whole seconds were too coarse).
pgcpu() { for p in $(pgrep -u postgres); do awk '{print $14+$15}' /proc/$p/stat 2>/dev/null; done | awk -v t="$(getconf CLK_TCK)" '{s+=$1} END {print s/t}'; }
cleanup() { pkill -f "serve --port 3930" 2>/dev/null; sleep 1; }
cleanup
if [ "$MODE" = sqlite ]; then
  rm -f ${TMPDIR:-/tmp}/parley-bench-s.sqlite*
  PARLEY_ADMIN_TOKEN=t $BIN serve --port 39301 --db ${TMPDIR:-/tmp}/parley-bench-s.sqlite --rate-limit-per-token 100000000 --rate-limit-per-address 100000000 --log-level warning ${SERVE_FLAGS:-} > ${TMPDIR:-/tmp}/parley-bench-node1.log 2>&1 &
else
  $PSQL_ADMIN -qc "CREATE DATABASE $DB OWNER parley" >/dev/null
  PARLEY_ADMIN_TOKEN=t $BIN serve --port 39301 --database-url "$PGURL_BASE/$DB${PGURL_QUERY:-}" --rate-limit-per-token 100000000 --rate-limit-per-address 100000000 --log-level warning ${SERVE_FLAGS:-} > ${TMPDIR:-/tmp}/parley-bench-node1.log 2>&1 &
  if [ "$MODE" != pg1 ]; then
    sleep 3
    PARLEY_ADMIN_TOKEN=t $BIN serve --port 39302 --database-url "$PGURL_BASE/$DB${PGURL_QUERY:-}" --rate-limit-per-token 100000000 --rate-limit-per-address 100000000 --log-level warning ${SERVE_FLAGS:-} > ${TMPDIR:-/tmp}/parley-bench-node2.log 2>&1 &
  fi
fi
sleep 3
until curl -sf localhost:39301/health >/dev/null; do sleep 0.3; done
case "$MODE" in pg2*) until curl -sf localhost:39302/health >/dev/null; do sleep 0.3; done ;; esac
P1=$(pgrep -f "serve --port 39301"); P2=$(pgrep -f "serve --port 39302" || true)
sync
before=$(pgcpu); s1=$(awk '{print $14+$15}' /proc/$P1/stat); s2=0; [ -n "$P2" ] && s2=$(awk '{print $14+$15}' /proc/$P2/stat)
t0=$(date +%s.%N)
if [ "$MODE" = pg2-two-generators ]; then
  $BIN bench workflow --url http://127.0.0.1:39301 --token t --concurrency $((C/2)) --workflows $((N/2)) --phases workflow > ${TMPDIR:-/tmp}/parley-bench-b1.txt 2>&1 &
  first=$!
  $BIN bench workflow --url http://127.0.0.1:39302 --token t --concurrency $((C/2)) --workflows $((N/2)) --phases workflow > ${TMPDIR:-/tmp}/parley-bench-b2.txt 2>&1
  wait $first  # only the first load generator: the servers are this script's children too
else
  also=""; [ "$MODE" = pg2 ] && also="--also-url http://127.0.0.1:39302"
  $BIN bench workflow --url http://127.0.0.1:39301 $also --token t --concurrency $C --workflows $N --phases workflow > ${TMPDIR:-/tmp}/parley-bench-b1.txt 2>&1
  : > ${TMPDIR:-/tmp}/parley-bench-b2.txt
fi
t1=$(date +%s.%N)
after=$(pgcpu); e1=$(awk '{print $14+$15}' /proc/$P1/stat); e2=0; [ -n "$P2" ] && e2=$(awk '{print $14+$15}' /proc/$P2/stat)
ticks=$(getconf CLK_TCK)
python3 - "$MODE" "$C" "$N" "$t0" "$t1" "$before" "$after" "$s1" "$e1" "$s2" "$e2" "$ticks" <<'PY'
import sys, re, os
mode, c, n, t0, t1, b, a, s1, e1, s2, e2, ticks = sys.argv[1:]
wall = float(t1) - float(t0)
done = 0; p99s = []
tmp = os.environ.get("TMPDIR", "/tmp")
for f in [tmp + "/parley-bench-b1.txt", tmp + "/parley-bench-b2.txt"]:
    txt = open(f).read()
    m = re.search(r"workflows (\d+)\s+errors (\d+)", txt)
    if m: done += int(m.group(1))
    for line in txt.splitlines():
        parts = line.split("\t")
        if len(parts) >= 5 and parts[0] in ("create", "agent reply", "customer reply", "resolve"):
            p99s.append(float(parts[4]))
server = ((float(e1) - float(s1)) + (float(e2) - float(s2))) / float(ticks)
def secs(t):
    # ps times= gives seconds
    return float(t)
pg = secs(a) - secs(b)
print(f"{mode} C={c}: {done/wall:.1f} workflows/s over {wall:.1f} s, p99 max {max(p99s) if p99s else 0:.1f} ms, "
      f"server CPU {server*1000/max(done,1):.2f} ms/workflow, PostgreSQL CPU {pg*1000/max(done,1):.2f} ms/workflow")
PY
grep -h "errors" ${TMPDIR:-/tmp}/parley-bench-b1.txt ${TMPDIR:-/tmp}/parley-bench-b2.txt | head -2
cleanup
[ "$MODE" != sqlite ] && $PSQL_ADMIN -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
