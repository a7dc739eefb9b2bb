# tests/e2e/server_lib.bash
# Shared by the server's end-to-end tests (tests/e2e/server_*.sh): a real
# `amber serve` on free loopback ports, fake machines, curl, JSON lookups.
# Everything started here is killed on exit, by its own pid.

set -euo pipefail
ROOT=${AMBER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
B=${AMBER_BUILD:-$ROOT/build}
AMBER=$B/amber
HELPER=$B/tests/test_server_machine
for f in "$AMBER" "$HELPER"; do
  [ -x "$f" ] || { echo "missing $f: build with make first" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/amber-e2e.XXXXXX)
PIDS=()

cleanup() {
  local p i
  # Machines first: an XS machine whose debugger vanishes while it is
  # parked spins until killed.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -9 "${PIDS[$i]}" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [ -f "$WORK/serve.log" ]; then echo "--- server log:" >&2; tail -n 30 "$WORK/serve.log" >&2; fi
  exit 1
}

expect_eq() { # actual expected what
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

free_port() { "$HELPER" free-port; }

# start_server [serve options…]: sets MPORT HPORT URL DB SERVER_PID and
# exports AMBER_SERVER and AMBER_DB for the CLI.
start_server() {
  MPORT=$(free_port)
  HPORT=$(free_port)
  while [ "$HPORT" = "$MPORT" ]; do HPORT=$(free_port); done
  URL=http://127.0.0.1:$HPORT
  DB=${DB:-$WORK/amber.db}
  "$AMBER" serve --db "$DB" --machines "$MPORT" --http "$HPORT" "$@" \
    >>"$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  export AMBER_SERVER=$URL AMBER_DB=$DB
  local i
  for i in $(seq 200); do
    curl -sf ${TOKEN:+-H "Authorization: Bearer $TOKEN"} "$URL/api" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited at start"
    sleep 0.05
  done
  fail "the server did not answer on $URL"
}

stop_server() {
  kill -TERM "$SERVER_PID"
  local rc=0
  wait "$SERVER_PID" || rc=$?
  expect_eq "$rc" 0 "server exit status after SIGTERM"
}

# machine NAME [fake-machine options…]: start a fake machine; sets LAST_PID.
machine() {
  local name=$1
  shift
  "$HELPER" fake-machine --port "$MPORT" --name "$name" "$@" >"$WORK/$name.out" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

get() { curl -s ${TOKEN:+-H "Authorization: Bearer $TOKEN"} "$URL$1"; }
post() { curl -s ${TOKEN:+-H "Authorization: Bearer $TOKEN"} -X POST -H 'Content-Type: application/json' --data-binary "${2-}" "$URL$1"; }
# code METHOD PATH [BODY]: the HTTP status only.
code() {
  curl -s -o /dev/null -w '%{http_code}' ${TOKEN:+-H "Authorization: Bearer $TOKEN"} \
    -X "$1" ${3+-H 'Content-Type: application/json' --data-binary "$3"} "$URL$2"
}
jget() { "$HELPER" json-get "$1"; }

# built_with_asan FILE: whether FILE carries AddressSanitizer — linked in
# statically by clang, as a shared library by gcc; valgrind runs neither.
# (grep reads all of nm's output: with pipefail an early exit would fail.)
built_with_asan() { nm -a "$1" 2>/dev/null | grep __asan_init >/dev/null; }

# machine_id NAME: the id of the connected machine NAME, waiting for it
# (up to MACHINE_WAIT seconds, 10 unless set: valgrind needs longer).
machine_id() {
  local i id
  for i in $(seq $(( ${MACHINE_WAIT:-10} * 20 ))); do
    id=$(get /api/machines | "$HELPER" json-get "" 2>/dev/null | tr '{' '\n' |
         grep -F "\"name\":\"$1\"" | sed -n 's/.*"id":\([0-9]*\).*/\1/p' | head -n1 || true)
    [ -n "$id" ] && { echo "$id"; return 0; }
    sleep 0.05
  done
  fail "machine $1 never logged in"
}

machine_count() { get /api/machines | jget '#'; }

# wait_request ID: waits until done or failed; prints the final state.
wait_request() {
  local i st
  for i in $(seq 600); do
    st=$(get "/api/requests/$1" | jget state)
    case $st in done|failed) echo "$st"; return 0 ;; esac
    sleep 0.05
  done
  fail "request $1 never finished"
}

# snapshot_via_api MACHINE-ID [BODY]: prints the request id.
snapshot_via_api() {
  post "/api/machines/$1/snapshot" "${2-}" | jget id
}
