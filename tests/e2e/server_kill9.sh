#!/usr/bin/env bash
# The server killed with SIGKILL in the middle of an ingest: the database
# passes PRAGMA integrity_check, the snapshots stored before are intact, no
# partial snapshot is listed, and a restarted server carries on.
source "$(dirname "$0")/server_lib.bash"

start_server
machine steady.lua --nodes 3000
id=$(machine_id steady.lua)
req=$(snapshot_via_api "$id")
expect_eq "$(wait_request "$req")" done "the first snapshot"
first=$(get "/api/requests/$req" | jget snapshot)
hash=$(get "/api/snapshots/$first" | jget hash)

# A large snapshot sent slowly, so the kill lands in the middle of it.
machine slow.lua --nodes 100000 --batch 16384 --batch-delay-ms 5
slow=$(machine_id slow.lua)
req=$(snapshot_via_api "$slow")
for i in $(seq 200); do
  n=$(get "/api/requests/$req" | jget nodes)
  [ "$n" -gt 20000 ] && break
  sleep 0.05
done
[ "$n" -gt 20000 ] || fail "the big snapshot did not start streaming"
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true

expect_eq "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok "integrity after SIGKILL"
list=$("$AMBER" list --json --limit 0)
expect_eq "$(wc -l <<<"$list" | tr -d ' ')" 1 "only the complete snapshot is listed"
expect_eq "$(jget id <<<"$list")" "$first" "the listed snapshot"
expect_eq "$(jget hash <<<"$list")" "$hash" "its hash"
expect_eq "$("$AMBER" show "$first" 2999 --json | jget node.id)" 2999 "its last node"

# A new server on the same database works on.
start_server
machine again.lua --nodes 500
again=$(machine_id again.lua)
req=$(snapshot_via_api "$again")
expect_eq "$(wait_request "$req")" done "a snapshot after the restart"
expect_eq "$(get /api/snapshots | jget count)" 2 "snapshots after the restart"
stop_server
expect_eq "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok "integrity at the end"
echo "ok"
