#!/usr/bin/env bash
# Heap analyses run on the server's worker threads, never in its event loop:
# (a) while a slow analysis of a big imported snapshot is in flight, the
#     machines list, a stored snapshot and a machine's snapshot request
#     (sent, ingested, done) are all answered;
# (b) a snapshot the server stores is analysed in the background: its row
#     appears in analysis_snapshots without any request, and a summary
#     request keeps what it computed (the API's own handle is read-only);
# (c) clients that leave mid-analysis (a reset, a plain close) cost nothing:
#     the answer is dropped, the server keeps answering, and SIGTERM with
#     analyses running and queued still exits cleanly;
# (d) the background analysis of a big snapshot runs in a child process
#     (amber prepare): the server's own peak memory does not grow with it,
#     and SIGTERM while one runs ends the child too;
# (e) so does the check of a snapshot's rows before its restore (their
#     hash over all of them, on a worker): the loop answers meanwhile.
source "$(dirname "$0")/server_lib.bash"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (.ci/deps installs it)"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# kept SNAP: 1 if the analysis of SNAP is in the database.
kept() {
  sqlite3 "$DB" "SELECT count(*) FROM analysis_snapshots WHERE snapshot=$1" 2>/dev/null || echo 0
}
is_kept() { [ "$(kept "$1")" = 1 ]; }
# logged PATTERN: the server's log has a line matching PATTERN.
logged() { grep -q "$1" "$WORK/serve.log"; }
# wait_for WHAT SECONDS COMMAND…: poll until the command succeeds.
wait_for() {
  local what=$1 secs=$2 i
  shift 2
  for i in $(seq $((secs * 20))); do
    "$@" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died while waiting for $what"
    sleep 0.05
  done
  fail "$what did not happen within $secs s"
}

# A snapshot big enough that finding its leaks takes a good second, stored
# by `amber import` before the server runs, so nothing has analysed it.
DB=$WORK/amber.db
"$HELPER" capture "$WORK/big.cap" "${BIG_NODES:-300000}"
"$AMBER" import --db "$DB" "$WORK/big.cap" >/dev/null 2>&1 || fail "importing the big capture"
big=1
SLOW="/api/leaks?baseline=$big&target=$big&final=$big"

# ---- (a) the loop answers while an analysis runs --------------------------
start_server
machine quick.lua --nodes 2000
mid=$(machine_id quick.lua)

t_sent=$(now_ms)
curl -s -o "$WORK/slow.json" -w '%{http_code} %{time_total}' "$URL$SLOW" >"$WORK/slow.out" &
slow_pid=$!
# Count what is answered from 300 ms after the slow request was sent (the
# server has it by then) until its answer: with the analysis in the event
# loop, every one of these would wait for it.
: >"$WORK/fast.log"
req=""
while kill -0 "$slow_pid" 2>/dev/null; do
  t0=$(now_ms)
  expect_eq "$(code GET /api/machines)" 200 "GET /api/machines during the analysis"
  expect_eq "$(get "/api/snapshots/$big" | jget nodes)" "${BIG_NODES:-300000}" \
    "GET /api/snapshots/$big during the analysis"
  if [ $((t0 - t_sent)) -ge 300 ]; then
    if [ -z "$req" ]; then
      req=$(snapshot_via_api "$mid")
      echo "sent $(now_ms)" >>"$WORK/fast.log"
    elif ! grep -q '^done' "$WORK/fast.log" &&
         [ "$(get "/api/requests/$req" | jget state)" = done ]; then
      echo "done $(now_ms)" >>"$WORK/fast.log"
    fi
    echo "fast $(now_ms)" >>"$WORK/fast.log"
  fi
done
rc=0; wait "$slow_pid" || rc=$?
[ "$rc" = 0 ] || fail "the slow request failed (curl exit status $rc: $(cat "$WORK/slow.out"))"
read -r slow_code slow_secs <"$WORK/slow.out" || true   # no newline at its end
expect_eq "$slow_code" 200 "the slow analysis's status"
expect_eq "$("$HELPER" json-get total <"$WORK/slow.json")" 0 "nothing leaks between a snapshot and itself"
# curl started timing after t_sent: the answer came no earlier than this.
t_answered=$(( t_sent + $(awk -v s="$slow_secs" 'BEGIN { printf "%d", s * 1000 }') ))
during=0
while read -r what t; do
  [ "$what" = fast ] && [ "$t" -lt "$t_answered" ] && during=$((during + 1))
done <"$WORK/fast.log"
echo "a ${slow_secs} s analysis; meanwhile $during rounds of requests were answered"
[ "$during" -ge 3 ] ||
  fail "only $during requests were answered while the analysis ran (${slow_secs}s): the loop waited for it"
done_at=$(awk '$1 == "done" { print $2 }' "$WORK/fast.log")
[ -n "$done_at" ] && [ "$done_at" -lt "$t_answered" ] ||
  fail "the machine's snapshot was not stored while the analysis ran"

# ---- (b) stored snapshots are analysed in the background ------------------
snap=$(get "/api/requests/$req" | jget snapshot)
wait_for "the analysis of snapshot $snap" 30 is_kept "$snap"
# The row is committed by the child before it exits; the loop logs once it
# has reaped the child, so the line may come a little later.
wait_for "the log line for snapshot $snap" 20 logged "snapshot #$snap analysed in"
expect_eq "$(get "/api/snapshots/$snap/summary" | jget nodes)" 1999 "the summary of the analysed snapshot"
# The imported one was never asked for: nothing is kept until a request.
expect_eq "$(kept "$big")" 0 "an imported snapshot is not analysed by itself"
expect_eq "$(get "/api/snapshots/$big/summary" | jget nodes)" $(( ${BIG_NODES:-300000} - 1 )) \
  "the big snapshot's summary"
expect_eq "$(kept "$big")" 1 "a summary request keeps what it computed"
expect_eq "$(code GET "/api/snapshots/$big/top?limit=3")" 200 "top retainers"
expect_eq "$(code GET "/api/snapshots/$big/nodes/5/dominators")" 200 "dominators"
expect_eq "$(get "/api/snapshots/$big/nodes/5/paths" | jget node)" 5 "paths"
expect_eq "$(code GET "/api/snapshots/$big/nodes/99999999/paths")" 404 "paths of no node"
expect_eq "$(code GET "/api/diff?a=$big&b=$snap")" 200 "diff"
expect_eq "$(code GET "/api/diff?a=$big")" 400 "diff without b"
expect_eq "$(code POST "/api/diff?a=$big&b=$snap")" 405 "diff is a GET"

# ---- (e) the check of a snapshot before its restore runs on a worker -------
# store_verify reads all of the big snapshot: requests sent meanwhile are
# answered, and the restore is accepted once the rows check out.
t_sent=$(now_ms)
curl -s -o "$WORK/restore.json" -w '%{http_code} %{time_total}' -X POST \
  -H 'Content-Type: application/json' --data-binary "{\"machine\":$mid}" \
  "$URL/api/snapshots/$big/restore" >"$WORK/restore.out" &
restore_pid=$!
sleep 0.02
during=0
while kill -0 "$restore_pid" 2>/dev/null; do
  expect_eq "$(code GET /api/machines)" 200 "GET /api/machines while a restore is checked"
  kill -0 "$restore_pid" 2>/dev/null && during=$((during + 1))
done
wait "$restore_pid" || fail "the restore request failed"
read -r restore_code restore_secs <"$WORK/restore.out" || true
expect_eq "$restore_code" 202 "the restore of the checked snapshot is accepted"
echo "a restore checked for ${restore_secs} s; meanwhile $during requests were answered"
[ "$during" -ge 2 ] ||
  fail "only $during requests were answered while the restore was checked (${restore_secs}s): the loop waited for it"
[ -n "$(get "/api/requests/$(jget id <"$WORK/restore.json")" | jget state)" ] ||
  fail "the restore request is listed"
stop_server

# ---- (d) the background analysis runs in a child ---------------------------
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status"; }
prepare_child() { pgrep -P "$SERVER_PID" -f "amber prepare" >/dev/null; }
start_server
machine big.lua --nodes "${BIG_NODES:-300000}"
bid=$(machine_id big.lua)
req=$(snapshot_via_api "$bid")
expect_eq "$(wait_request "$req")" done "the big snapshot through a machine"
bsnap=$(get "/api/requests/$req" | jget snapshot)
stored_kb=$(hwm_kb)
wait_for "the analysis of the big snapshot $bsnap" 60 is_kept "$bsnap"
after_kb=$(hwm_kb)
echo "server peak RSS: $stored_kb KiB once the big snapshot was stored, $after_kb KiB after its analysis"
# in the server, the graph alone (about 75 bytes a node) would add 20 MiB
[ $((after_kb - stored_kb)) -lt 8192 ] ||
  fail "the server's peak memory grew by $((after_kb - stored_kb)) KiB while the snapshot was analysed"
wait_for "the log line for the big snapshot" 20 \
  logged "snapshot #$bsnap analysed in [0-9]* ms: its summary"
# Another one, and SIGTERM while its child runs: both end promptly.
req=$(snapshot_via_api "$bid")
expect_eq "$(wait_request "$req")" done "a second big snapshot"
wait_for "the child analysing it" 20 prepare_child
t0=$(now_ms)
stop_server
[ $(( $(now_ms) - t0 )) -lt 10000 ] || fail "shutting down waited for the child's analysis"
pgrep -f "amber prepare --json --db $DB" >/dev/null && fail "the analysing child outlived the server"
expect_eq "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok "integrity after the child was stopped"

# ---- (c) clients that leave ------------------------------------------------
# One worker, so jobs run in order and one's answer means the earlier ones
# are done.
start_server --workers 1
"$HELPER" http-leave "$HPORT" "$SLOW" 200 >"$WORK/leave.out"
expect_eq "$(tail -n 1 "$WORK/leave.out")" "left before the answer" \
  "a client resets its connection mid-analysis"
wait_for "the dropped answer" 60 grep -q "left before its answer was ready" "$WORK/serve.log"
expect_eq "$(code GET /api/machines)" 200 "the server answers after a reset"

# A plain close is noticed only when the answer is written.
curl -s -m 0.2 "$URL$SLOW" >/dev/null && fail "curl should have timed out"
expect_eq "$(get "$SLOW" | jget total)" 0 "the next analysis, after the abandoned one"
expect_eq "$(code GET /api)" 200 "the server answers after a closed client"

# Queued behind each other on the one worker, the last answer comes well
# after the 5 s lws gives a quiet connection: it must still come.
one=$(curl -s -o /dev/null -w '%{time_total}' "$URL$SLOW")
n=$(awk -v t="$one" 'BEGIN { n = int(7 / t) + 2; print (n < 16 ? n : 16) }')
pids=()
for i in $(seq "$n"); do
  curl -s -o "$WORK/q$i.json" -w '%{http_code} %{time_total}' "$URL$SLOW" >"$WORK/q$i.out" &
  pids+=("$!")
  PIDS+=("$!")
done
longest=0
for i in $(seq "$n"); do
  wait "${pids[$((i - 1))]}" || fail "queued analysis $i of $n failed"
  read -r st secs <"$WORK/q$i.out" || true
  expect_eq "$st" 200 "queued analysis $i of $n"
  expect_eq "$("$HELPER" json-get total <"$WORK/q$i.json")" 0 "queued analysis $i's answer"
  longest=$(awk -v a="$longest" -v b="$secs" 'BEGIN { print (b + 0 > a + 0 ? b : a) }')
done
echo "$n analyses of $one s each queued on one worker; the last waited $longest s"
awk -v t="$longest" 'BEGIN { exit !(t > 5.5) }' || fail "no answer waited past 5.5 s ($longest s)"

# SIGTERM while one analysis runs and two wait: a clean exit, promptly, and
# the waiting clients are closed without an answer.
queued=()
for i in 1 2 3; do
  "$HELPER" http-leave "$HPORT" "$SLOW" 60000 >"$WORK/queued$i.out" &
  queued+=("$!")
  PIDS+=("$!")
done
for i in 1 2 3; do wait_for "request $i to be sent" 10 grep -q sent "$WORK/queued$i.out"; done
expect_eq "$(code GET /api)" 200 "the server answers with analyses queued"
t0=$(now_ms)
stop_server
[ $(( $(now_ms) - t0 )) -lt 20000 ] || fail "shutting down waited for the queued analyses"
for i in 1 2 3; do
  wait "${queued[$((i - 1))]}"
  expect_eq "$(tail -n 1 "$WORK/queued$i.out")" "closed by the server" "client $i at shutdown"
done
expect_eq "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok "integrity"
echo "ok"
