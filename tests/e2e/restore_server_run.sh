#!/usr/bin/env bash
# `amber restore` through the server: a real amber-lua program with a counter
# closure mid-count is snapshotted via the server; `amber restore S --run`
# continues the count in a fresh VM the CLI starts itself; --clone 3 gives
# three independent VMs continuing from the same state; the VMs are logged
# out and gone afterwards; replace mode and the API's request record work.
source "$(dirname "$0")/server_lib.bash"
LUA=$B/amber-lua
[ -x "$LUA" ] || fail "missing $LUA: build with make first"

cat >"$WORK/app.lua" <<'LUA'
local amber = require "amber"
counter = (function() local c = 0 return function() c = c + 1 return c end end)()
for _ = 1, 41 do counter() end
inventory = {apples = 3, names = {"ann", "bob"}}
setmetatable(inventory, {__index = function(_, k) return "no " .. k end})
print("ready")
while not stop_now do amber.poll() end
LUA

start_server
"$LUA" --attach "127.0.0.1:$MPORT" "$WORK/app.lua" >"$WORK/app.out" 2>&1 &
PIDS+=($!)
app=$(machine_id app.lua)
snap=$("$AMBER" snapshot "$app" --wait --root globals --root registry 2>/dev/null)
[ -n "$snap" ] || fail "no snapshot stored"

# One fresh VM continues the count where the program was (41 calls made).
out=$("$AMBER" restore "$snap" --run 'print("apples", inventory.apples) return counter(), inventory.pears' 2>"$WORK/err") ||
  fail "amber restore --run failed: $(cat "$WORK/err")"
expect_eq "$out" "$(printf 'apples\t3\n42\tno pears')" "the restored counter continues and metatables work"

# Three clones, each continuing from the same state on its own: all say 42
# (shared state would give 42, 43, 44), and a second call in one says 43.
out=$("$AMBER" restore "$snap" --clone 3 --run 'return counter(), counter()' 2>"$WORK/err") ||
  fail "amber restore --clone 3 failed: $(cat "$WORK/err")"
expect_eq "$out" "$(printf '[1] 42\t43\n[2] 42\t43\n[3] 42\t43')" "three independent clones"

# The VMs were logged out: only the original machine is left, and no
# amber-lua --serve process lingers.
for i in $(seq 100); do [ "$(machine_count)" = 1 ] && break; sleep 0.05; done
expect_eq "$(machine_count)" 1 "restored VMs are logged out afterwards"
pgrep -f "amber-lua --attach 127.0.0.1:$MPORT --serve" >/dev/null && fail "a restored VM still runs"

# replace mode restores the globals table whole; the original keeps running.
out=$("$AMBER" restore "$snap" --mode replace --run 'return counter(), #inventory.names' 2>"$WORK/err") ||
  fail "replace mode failed: $(cat "$WORK/err")"
expect_eq "$out" "$(printf '42\t2')" "replace mode"
expect_eq "$(get "/api/machines/$app" | jget state)" running "the original program runs on"

# A code error is reported with its message and exit status 1.
if "$AMBER" restore "$snap" --run 'error("boom")' >/dev/null 2>"$WORK/err"; then
  fail "a failing --run exited 0"
fi
grep -q 'boom' "$WORK/err" || fail "the error text is missing: $(cat "$WORK/err")"

# The same through the API: a VM started by hand, restore + run, the request.
"$LUA" --attach "127.0.0.1:$MPORT" --serve --trust-bytecode --name spare >"$WORK/spare.out" 2>&1 &
spare_pid=$!
PIDS+=("$spare_pid")
spare=$(machine_id spare)
expect_eq "$(get "/api/machines/$spare" | jget features.2)" run "a serving VM announces run"
req=$(post "/api/snapshots/$snap/restore" "{\"machine\":$spare,\"run\":\"return counter()\"}" | jget id)
expect_eq "$(wait_request "$req")" done "restore request via the API"
r=$(get "/api/requests/$req")
expect_eq "$(jget kind <<<"$r")" restore "request kind"
expect_eq "$(jget total_nodes <<<"$r")" "$(get "/api/snapshots/$snap" | jget nodes)" "every node was sent"
expect_eq "$(jget nodes <<<"$r")" "$(jget total_nodes <<<"$r")" "nodes sent"
expect_eq "$(jget run.result <<<"$r")" 42 "run result in the request"
req=$(post "/api/machines/$spare/run" '{"code":"return counter()"}' | jget id)
expect_eq "$(wait_request "$req")" done "a second run"
expect_eq "$(get "/api/requests/$req" | jget run.result)" 43 "state persists between runs"
expect_eq "$(code POST "/api/machines/$app/run" '{"code":"return 1"}')" 409 "a program that did not announce run"
expect_eq "$(code POST "/api/machines/$spare/logout")" 202 "logout"
for i in $(seq 100); do kill -0 "$spare_pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$spare_pid" 2>/dev/null && fail "the serving VM did not exit at logout"
wait "$spare_pid" || fail "the serving VM exited non-zero after logout"
stop_server
echo "ok"
