#!/usr/bin/env bash
# A program that required lua-penlight and lua-dkjson, snapshotted through
# the server mid-run and restored by `amber restore` into a fresh process,
# goes on to print exactly what the original prints.
source "$(dirname "$0")/server_lib.bash"
LUA=$B/amber-lua
[ -x "$LUA" ] || fail "missing $LUA: build with make first"

cat >"$WORK/app.lua" <<'LUA'
local amber = require "amber"
local List = require "pl.List"
local json = require "dkjson"
state = {items = List{5, 3}, n = 0}
local counter = (function() local c = 0 return function() c = c + 1 return c end end)()
function step(k)
  for _ = 1, k do
    state.n = state.n + 1
    state.items:append(state.n * 3 % 7)
  end
  return json.encode({n = state.n, tick = counter(),
                      items = {table.unpack(state.items:clone():sort())}},
                     {keyorder = {"n", "tick", "items"}})
end
step(2)
-- Wait, serving the server, until the test says go on.
while not io.open(arg[1]) do amber.poll() end
print(step(4))
print(step(1))
LUA

start_server
"$LUA" --attach "127.0.0.1:$MPORT" "$WORK/app.lua" "$WORK/go-on" >"$WORK/original.out" 2>"$WORK/app.err" &
app_pid=$!
PIDS+=("$app_pid")
app=$(machine_id app.lua)
snap=$("$AMBER" snapshot "$app" --wait --root globals --root registry 2>/dev/null)
[ -n "$snap" ] || fail "no snapshot"

# The original goes on from the moment of the snapshot …
touch "$WORK/go-on"
wait "$app_pid" || fail "the original program failed: $(cat "$WORK/app.err")"
[ "$(wc -l <"$WORK/original.out")" = 2 ] || fail "the original printed $(cat "$WORK/original.out")"

# … and so does a fresh process the snapshot is restored into.
"$AMBER" restore "$snap" --run 'print(step(4)) print(step(1))' >"$WORK/restored.out" 2>"$WORK/err" ||
  fail "amber restore failed: $(cat "$WORK/err")"
cmp -s "$WORK/original.out" "$WORK/restored.out" ||
  fail "restored printed $(cat "$WORK/restored.out"); the original $(cat "$WORK/original.out")"
grep -q '"n":6,"tick":2' "$WORK/restored.out" || fail "unexpected output $(cat "$WORK/restored.out")"
stop_server
echo "ok"
