#!/usr/bin/env bash
# amber-lua under valgrind: attached to a real server it is snapshotted while
# it runs, writes a snapshot to a capture file, restores that capture into a
# fresh state, and dies of an uncaught error that is captured post-mortem to
# the server — with no leak and no memory error in the agent.
source "$(dirname "$0")/server_lib.bash"
LUA=$B/amber-lua
command -v valgrind >/dev/null || fail "valgrind is not installed (.ci/deps installs it)"
if built_with_asan "$LUA"; then
  echo "SKIP: $LUA is built with AddressSanitizer; valgrind checks the plain build"
  exit 0
fi
VG=(valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9)

start_server
cat >"$WORK/app.lua" <<'LUA'
local amber = require "amber"
app = { items = {}, name = "vg" }
for i = 1, 2000 do app.items[i] = { id = i, label = "item" .. i, f = function() return i end } end
local co = coroutine.create(function(x) coroutine.yield(x + 1) end)
coroutine.resume(co, 1)
assert(amber.snapshot{file = arg[1], roots = {"globals", "registry"}})
local report = assert(amber.restore(arg[1], {trust = true}))
local deadline = os.time() + 60
while not io.open(arg[2]) and os.time() < deadline do
  for _ = 1, 1e4 do app.name = app.name end
  amber.poll()
end
error("on purpose: " .. report.nodes .. " nodes restored")
LUA
XSBUG_HOST=127.0.0.1:$MPORT "${VG[@]}" --log-file="$WORK/vg.log" \
  "$LUA" --capture "$WORK/crash.xsbug" "$WORK/app.lua" "$WORK/snap.xsbug" "$WORK/stop" \
  >"$WORK/app.out" 2>&1 &
APP=$!
PIDS+=("$APP")
id=$(MACHINE_WAIT=120 machine_id app.lua)
req=$(snapshot_via_api "$id" '{"roots":["globals"]}')
expect_eq "$(wait_request "$req")" done "snapshot of amber-lua under valgrind"
touch "$WORK/stop"
rc=0
wait "$APP" || rc=$?
expect_eq "$rc" 1 "exit status after the uncaught error"
grep -q "on purpose" "$WORK/app.out" || fail "the error message is missing: $(cat "$WORK/app.out")"
# connected, the post-mortem capture goes to the server rather than a file
for i in $(seq 100); do get /api/snapshots | grep -q '"reason":"crash"' && break; sleep 0.1; done
get /api/snapshots | grep -q '"reason":"crash"' || fail "the server holds no crash snapshot"
grep -q "ERROR SUMMARY: 0 errors" "$WORK/vg.log" || { cat "$WORK/vg.log" >&2; fail "valgrind found errors"; }
grep -q "definitely lost: 0 bytes" "$WORK/vg.log" || grep -q "no leaks are possible" "$WORK/vg.log" ||
  { cat "$WORK/vg.log" >&2; fail "valgrind found leaks"; }
echo "ok"
