#!/usr/bin/env bash
# What `amber restore` refuses, and failures that must stay clean: a snapshot
# whose stored rows were altered (sqlite3 on the database) is refused with
# the hash message and no VM is left behind; bytecode is not sent to a
# machine someone else started unless the user vouches for it; a machine
# that disconnects mid-restore fails the request, and the server goes on.
source "$(dirname "$0")/server_lib.bash"
LUA=$B/amber-lua
[ -x "$LUA" ] || fail "missing $LUA: build with make first"
command -v sqlite3 >/dev/null || fail "sqlite3 (the command) is needed to alter the database"

cat >"$WORK/app.lua" <<'LUA'
local amber = require "amber"
greeting = "hello from the snapshot"
function greet() return greeting end
while not stop_now do amber.poll() end
LUA

start_server
"$LUA" --attach "127.0.0.1:$MPORT" "$WORK/app.lua" >"$WORK/app.out" 2>&1 &
PIDS+=($!)
app=$(machine_id app.lua)
good=$("$AMBER" snapshot "$app" --wait --root globals 2>/dev/null)
bad=$("$AMBER" snapshot "$app" --wait --root globals 2>/dev/null)
out=$("$AMBER" restore "$good" --run 'return greet()' 2>"$WORK/err") || fail "the intact snapshot: $(cat "$WORK/err")"
expect_eq "$out" "hello from the snapshot" "the intact snapshot restores"

# Alter one string's bytes (same length) in the second snapshot's packed nodes.
sqlite3 "$DB" "UPDATE pages SET data = CAST(replace(data, CAST('hello from the snapshot' AS BLOB),
                                 CAST('hello from the attacker' AS BLOB)) AS BLOB)
               WHERE (rid >> 40) = $bad;"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM pages WHERE (rid >> 40) = $bad AND
      instr(data, CAST('hello from the attacker' AS BLOB)) > 0;")" = 1 ] || fail "the alteration did not apply"
rc=0
"$AMBER" restore "$bad" --run 'return greet()' >"$WORK/out" 2>"$WORK/err" || rc=$?
expect_eq "$rc" 1 "exit status for an altered snapshot"
grep -q "refusing to restore snapshot $bad: .* hash to .* but it was stored with hash" "$WORK/err" ||
  fail "the refusal names the hash: $(cat "$WORK/err")"
[ -s "$WORK/out" ] && fail "an altered snapshot ran code: $(cat "$WORK/out")"
for i in $(seq 100); do [ "$(machine_count)" = 1 ] && break; sleep 0.05; done
expect_eq "$(machine_count)" 1 "the VM started for a refused restore is gone"
expect_eq "$(code POST "/api/snapshots/$bad/restore" "{\"machine\":$app}")" 409 "the API refuses it too"

# A machine started by someone else gets bytecode only with --trust-bytecode,
# and loads it only if it trusts it itself.
"$LUA" --attach "127.0.0.1:$MPORT" --serve --name wary >"$WORK/wary.out" 2>&1 &
PIDS+=($!)
wary=$(machine_id wary)
rc=0
"$AMBER" restore "$good" --machine "$wary" 2>"$WORK/err" || rc=$?
expect_eq "$rc" 1 "bytecode to a foreign machine without --trust-bytecode"
grep -q "carries function bytecode.*--trust-bytecode" "$WORK/err" || fail "the reason: $(cat "$WORK/err")"
rc=0
"$AMBER" restore "$good" --machine "$wary" --trust-bytecode 2>"$WORK/err" || rc=$?
expect_eq "$rc" 1 "a machine without --trust-bytecode refuses bytecode itself"
grep -q "machine refused the restore: .*trust" "$WORK/err" || fail "the machine's reason: $(cat "$WORK/err")"
out=$("$AMBER" restore "$good" --machine "$wary" --trust-bytecode --run 'return 6 * 7' 2>/dev/null || true)
[ -z "$out" ] || fail "a refused restore must not run code: $out"

# A machine that disconnects at the first restore batch fails the request.
machine dying --features "snapshot restore" --die-on-graph
dying=$(machine_id dying)
req=$(post "/api/snapshots/$good/restore" "{\"machine\":$dying}" | jget id)
expect_eq "$(wait_request "$req")" failed "a restore cut off by a disconnect"
get "/api/requests/$req" | jget error | grep -q "disconnected before the restore ended" ||
  fail "the reason: $(get "/api/requests/$req")"
grep -q "dying at the first restore batch" "$WORK/dying.out" || fail "the fake machine did not get a batch"
# The server goes on: the same snapshot restores fine right after.
out=$("$AMBER" restore "$good" --run 'return greet()' 2>"$WORK/err") || fail "after the disconnect: $(cat "$WORK/err")"
expect_eq "$out" "hello from the snapshot" "restores still work"
stop_server
echo "ok"
