#!/usr/bin/env bash
# `amber serve` under valgrind with machines connecting, snapshotting,
# sending garbage and disconnecting midway, heap analyses on the worker
# threads (one client leaving mid-analysis, two still queued at the end),
# then SIGTERM: no leaks and no memory errors.
source "$(dirname "$0")/server_lib.bash"
command -v valgrind >/dev/null || fail "valgrind is not installed (.ci/deps installs it)"
# An ASan build (make asan) checks the same things its own way; valgrind
# cannot run it.
if built_with_asan "$AMBER"; then
  echo "SKIP: $AMBER is built with AddressSanitizer; valgrind checks the plain build"
  exit 0
fi

# Snapshot 1, imported: big enough that its leak search takes a while here.
"$HELPER" capture "$WORK/big.cap" 20000
"$AMBER" import --db "$WORK/vg.db" "$WORK/big.cap" >/dev/null 2>&1 || fail "import"
SLOW="/api/leaks?baseline=1&target=1&final=1"

MPORT=$(free_port)
HPORT=$(free_port)
URL=http://127.0.0.1:$HPORT
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 \
  --log-file="$WORK/vg.log" \
  "$AMBER" serve --db "$WORK/vg.db" --machines "$MPORT" --http "$HPORT" \
  >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for i in $(seq 200); do curl -sf "$URL/api" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$URL/api" >/dev/null || fail "the server under valgrind did not start"

machine ok.lua --nodes 3000 --log "hi"
id=$(machine_id ok.lua)
req=$(snapshot_via_api "$id" '{"roots":["globals"],"label":"vg"}')
expect_eq "$(wait_request "$req")" done "snapshot under valgrind"
snap=$(get "/api/requests/$req" | jget snapshot)
for i in $(seq 600); do grep -q "snapshot #$snap analysed" "$WORK/serve.log" && break; sleep 0.1; done
grep -q "snapshot #$snap analysed" "$WORK/serve.log" || fail "the new snapshot was not analysed"
machine dies.lua --nodes 20000 --batch 4096 --die-after-batches 2
dies=$(machine_id dies.lua)
req=$(snapshot_via_api "$dies")
expect_eq "$(wait_request "$req")" failed "disconnect midway under valgrind"
machine bad.lua --malformed
machine parked.lua --parked
parked=$(machine_id parked.lua)
code POST "/api/machines/$parked/toggle" '{"id":"@1"}' >/dev/null
get "/api/snapshots/1/nodes/1/children?limit=5" >/dev/null
get "/api/snapshots/1/search?type=Item&limit=5" >/dev/null
get "/api/snapshots/1/frames" >/dev/null
get "/api/machines/$id/log" >/dev/null
code GET /api/nowhere >/dev/null
expect_eq "$(get "/api/snapshots/$snap/summary" | jget nodes)" 2999 "summary on a worker"
for p in "/api/snapshots/$snap/top" "/api/snapshots/$snap/nodes/5/dominators" \
         "/api/snapshots/$snap/nodes/5/paths" "/api/diff?a=1&b=$snap"; do
  expect_eq "$(code GET "$p")" 200 "GET $p on a worker"
done
# A client that leaves mid-analysis, and one that closes: both answers dropped.
"$HELPER" http-leave "$HPORT" "$SLOW" 50 | grep -q "left before the answer" ||
  fail "the leak search answered within 50 ms under valgrind"
for i in $(seq 600); do grep -q "left before its answer" "$WORK/serve.log" && break; sleep 0.1; done
grep -q "left before its answer" "$WORK/serve.log" || fail "the answer was not dropped"
curl -s -m 0.05 "$URL$SLOW" >/dev/null || true
# Two analyses still running or queued at SIGTERM are abandoned.
for i in 1 2; do
  "$HELPER" http-leave "$HPORT" "$SLOW" 600000 >"$WORK/queued$i.out" &
  PIDS+=("$!")
done
for i in 1 2; do
  for j in $(seq 100); do grep -q sent "$WORK/queued$i.out" && break; sleep 0.1; done
done
curl -sf "$URL/api" >/dev/null || fail "the server answers with analyses queued"
kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
if [ "$rc" != 0 ]; then cat "$WORK/vg.log" >&2; fail "valgrind exit status $rc"; fi
[ -n "${AMBER_VG_LOG:-}" ] && cp "$WORK/vg.log" "$AMBER_VG_LOG"
grep -q "ERROR SUMMARY: 0 errors" "$WORK/vg.log" || { cat "$WORK/vg.log" >&2; fail "valgrind errors"; }
echo "ok"
