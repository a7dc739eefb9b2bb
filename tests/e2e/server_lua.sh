#!/usr/bin/env bash
# The server with a real Lua VM under amber-lua: login, print lines as log,
# a snapshot while it runs (roots and exits honoured), a breakpoint set
# through the API parks it, a snapshot at the break has its frames and
# locals, and go lets it run to the end.
source "$(dirname "$0")/server_lib.bash"
LUA=$B/amber-lua
[ -x "$LUA" ] || fail "missing $LUA: build with make first"

cat >"$WORK/app.lua" <<'LUA'
app = { state = { players = {}, ticks = 0 }, name = "demo" }
for i = 1, 50 do app.state.players[i] = { name = "p" .. i, hp = i + 0.5 } end
local function tick(n)
  app.state.ticks = app.state.ticks + n
  return app.state.ticks
end
print("started")
local t0 = os.clock()
while os.clock() - t0 < 20 and not stop_now do
  tick(1)
end
print("finished", app.state.ticks > 0)
LUA

start_server
XSBUG_HOST=127.0.0.1:$MPORT "$LUA" "$WORK/app.lua" >"$WORK/app.out" 2>&1 &
lua_pid=$!
PIDS+=("$lua_pid")
id=$(machine_id app.lua)
m=$(get "/api/machines/$id")
expect_eq "$(jget vm <<<"$m")" lua "vm from the login"
expect_eq "$(jget features.0 <<<"$m")" snapshot "the agent announces snapshots"
expect_eq "$(jget features.2 <<<"$m")" binary "the agent announces binary frames"
for i in $(seq 100); do [ "$(get "/api/machines/$id/log" | jget total)" -ge 1 ] && break; sleep 0.05; done
expect_eq "$(get "/api/machines/$id/log" | jget lines.0.text)" started "print arrives as a log line"

# A snapshot of one path while it runs; io.stdout is an exit.
snap=$("$AMBER" snapshot "$id" --wait --root app.state --exit io.stdout 2>/dev/null)
s=$(get "/api/snapshots/$snap")
expect_eq "$(jget reason <<<"$s")" request "reason"
[ "$(jget nodes <<<"$s")" -ge 100 ] || fail "a path root with 50 players has 100+ nodes"
"$AMBER" show "$snap" 0 | grep -q "root      path:app.state = #1 table" || fail "the path root"
"$AMBER" show "$snap" '@1.players[2].name' | grep -q '"p2"' || fail "the path root's contents"
"$AMBER" show "$snap" '@1.players[2].hp' | grep -qx '@1.players\[2\].hp = 2.5' || fail "a float field"

# A breakpoint parks it; a snapshot at the break has the frames.
expect_eq "$(code POST "/api/machines/$id/breakpoints" '{"set":[{"path":"app.lua","line":4}]}')" 202 "set a breakpoint"
for i in $(seq 200); do [ "$(get "/api/machines/$id" | jget state)" = parked ] && break; sleep 0.05; done
m=$(get "/api/machines/$id")
expect_eq "$(jget state <<<"$m")" parked "parked at the breakpoint"
expect_eq "$(jget break.line <<<"$m")" 4 "break line"
expect_eq "$(jget frames.0.name <<<"$m")" tick "innermost frame"
expect_eq "$(jget locals.properties.0.name <<<"$m")" n "the selected frame's first local"
snap2=$("$AMBER" snapshot "$id" --wait --root stack --root globals 2>/dev/null)
expect_eq "$(get "/api/snapshots/$snap2" | jget reason)" break "a snapshot at a break"
f=$(get "/api/snapshots/$snap2/frames")
expect_eq "$(jget frames.0.function <<<"$f")" tick "captured frame"
expect_eq "$(jget frames.0.locals.1.name <<<"$f")" n "captured local"
"$AMBER" frames "$snap2" | grep -q "local    n = 1" || fail "amber frames shows the local"

# Clear the breakpoint, let it go, and end it early.
expect_eq "$(code POST "/api/machines/$id/breakpoints" '{"clear_all":true}')" 202 "clear"
expect_eq "$(code POST "/api/machines/$id/go")" 202 "go"
for i in $(seq 100); do [ "$(get "/api/machines/$id" | jget state)" = running ] && break; sleep 0.05; done
kill "$lua_pid"
wait "$lua_pid" 2>/dev/null || true
for i in $(seq 100); do [ "$(machine_count)" = 0 ] && break; sleep 0.05; done
expect_eq "$(machine_count)" 0 "the machine is gone after it exits"
stop_server
echo "ok"
