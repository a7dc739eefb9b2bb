#!/usr/bin/env bash
# Snapshots that do not finish: a machine that disconnects midway, one that
# answers with snapshot-error, one that stalls, one that never answers. Each
# request fails with a reason, nothing partial is stored, earlier snapshots
# stay intact, and the server keeps serving.
source "$(dirname "$0")/server_lib.bash"

start_server --stall-timeout 1 --answer-timeout 1
machine whole.lua --nodes 1000
whole=$(machine_id whole.lua)
req=$(snapshot_via_api "$whole")
expect_eq "$(wait_request "$req")" done "a complete snapshot first"
first=$(get "/api/requests/$req" | jget snapshot)

machine dies.lua --nodes 50000 --batch 8192 --die-after-batches 3
dies=$(machine_id dies.lua)
req=$(snapshot_via_api "$dies")
expect_eq "$(wait_request "$req")" failed "disconnect midway"
get "/api/requests/$req" | jget error | grep -q "disconnect" || fail "the reason names the disconnect"

machine refuses.lua --nodes 50000 --batch 8192 --snapshot-error
refuses=$(machine_id refuses.lua)
req=$(snapshot_via_api "$refuses")
expect_eq "$(wait_request "$req")" failed "snapshot-error"
get "/api/requests/$req" | jget error | grep -q "out of memory" || fail "the machine's reason is kept"

machine stalls.lua --nodes 1000 --stall
stalls=$(machine_id stalls.lua)
req=$(snapshot_via_api "$stalls")
expect_eq "$(wait_request "$req")" failed "stalled midway"
get "/api/requests/$req" | jget error | grep -q "stopped sending" || fail "the reason names the stall"

# A machine that announced snapshots but never answers (a VM blocked in C).
machine mute.lua --nodes 1000 --features "snapshot" --exit-after 0
mute=$(machine_id mute.lua)
kill -STOP "$LAST_PID"
req=$(snapshot_via_api "$mute")
expect_eq "$(wait_request "$req")" failed "no answer"
get "/api/requests/$req" | jget error | grep -q "did not answer" || fail "the reason names the silence"

# Only the complete snapshot is listed, and it is whole.
expect_eq "$(get /api/snapshots | jget count)" 1 "snapshots stored"
expect_eq "$(get "/api/snapshots/$first" | jget nodes)" 1000 "the earlier snapshot"
expect_eq "$(get "/api/snapshots/$first/nodes/999" | jget id)" 999 "its last node"
# The machine that stalled is still connected and can try again.
expect_eq "$(code GET "/api/machines/$stalls")" 200 "a stalled machine stays connected"
stop_server
expect_eq "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok "integrity"
echo "ok"
