#!/usr/bin/env bash
# Twenty machines snapshotting at once, while one machine is frozen in the
# middle of its own snapshot and another sends garbage: every healthy
# request completes with the right counts, the frozen one gives way after
# the contention timeout, and the HTTP side keeps answering.
source "$(dirname "$0")/server_lib.bash"

start_server --contention-timeout 1
machine frozen.lua --nodes 50000 --batch 16384 --batch-delay-ms 2
frozen_pid=$LAST_PID
frozen=$(machine_id frozen.lua)
freq=$(snapshot_via_api "$frozen")
for i in $(seq 200); do
  [ "$(get "/api/requests/$freq" | jget state)" = receiving ] && break
  sleep 0.02
done
kill -STOP "$frozen_pid"

for i in $(seq 20); do machine "m$i.lua" --nodes $((1000 + i * 100)); done
ids=()
for i in $(seq 20); do ids+=("$(machine_id "m$i.lua")"); done
machine garbage.lua --malformed
wait_reqs=()
for i in $(seq 20); do wait_reqs+=("$(snapshot_via_api "${ids[$((i - 1))]}")"); done
start=$(date +%s%N)
expect_eq "$(code GET /api/snapshots)" 200 "HTTP answers during the ingests"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 2000 ] || fail "an API call took $ms ms during the ingests"

for i in $(seq 20); do
  r=${wait_reqs[$((i - 1))]}
  expect_eq "$(wait_request "$r")" done "request of m$i.lua"
  expect_eq "$(get "/api/requests/$r" | jget nodes)" $((1000 + i * 100)) "nodes of m$i.lua"
done
expect_eq "$(wait_request "$freq")" failed "the frozen machine gave way"
get "/api/requests/$freq" | jget error | grep -q "waited for the database" ||
  fail "the reason names the contention"
kill -CONT "$frozen_pid"
# Once thawed, the rest of its aborted snapshot is ignored, and it can
# be asked again.
freq=$(snapshot_via_api "$frozen")
expect_eq "$(wait_request "$freq")" done "the thawed machine's next snapshot"
expect_eq "$(get /api/snapshots?limit=0 | jget count)" 21 "snapshots stored"
stop_server
expect_eq "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok "integrity"
echo "ok"
