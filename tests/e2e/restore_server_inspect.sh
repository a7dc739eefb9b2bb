#!/usr/bin/env bash
# Post-mortem through the server: a program crashes under amber-lua and its
# crash snapshot reaches the server; `amber restore S --inspect` shows the
# crash frames and locals, and leaves a fresh VM parked with them, visible
# in `amber machines`, explorable through the API, until it is logged out.
source "$(dirname "$0")/server_lib.bash"
LUA=$B/amber-lua
[ -x "$LUA" ] || fail "missing $LUA: build with make first"

cat >"$WORK/crash.lua" <<'LUA'
local function parse(line)
  local total = 0
  for f in line:gmatch("[^,]+") do total = total + tonumber(f) end
  return total
end
config = {mode = "strict"}
print(parse("1,2,x"))
LUA

start_server
"$LUA" --attach "127.0.0.1:$MPORT" "$WORK/crash.lua" >"$WORK/crash.out" 2>&1 &&
  fail "the crashing program exited 0"
snap=$("$AMBER" list --json 2>/dev/null | jget snapshots.0.id 2>/dev/null || true)
[ -n "$snap" ] || snap=$(get "/api/snapshots" | jget snapshots.0.id)
expect_eq "$(get "/api/snapshots/$snap" | jget reason)" crash "a crash snapshot was stored"

"$AMBER" restore "$snap" --inspect >"$WORK/inspect.out" 2>"$WORK/inspect.err" ||
  fail "amber restore --inspect failed: $(cat "$WORK/inspect.err")"
grep -q '^frame 1: parse (@.*/crash.lua:3)$' "$WORK/inspect.out" || fail "crash frame: $(cat "$WORK/inspect.out")"
grep -q '^  local line = "1,2,x"$' "$WORK/inspect.out" || fail "crash local line: $(cat "$WORK/inspect.out")"
grep -q '^  local total = 3$' "$WORK/inspect.out" || fail "crash local total: $(cat "$WORK/inspect.out")"
grep -q 'attempt to perform arithmetic on a nil value' "$WORK/inspect.err" || fail "the crash's error is shown"
grep -q 'parked at a break' "$WORK/inspect.err" || fail "it says how to look at the VM"
vm=$(tail -n 1 "$WORK/inspect.out")

# The VM lives on after the CLI returned: parked, listed, its locals hold
# the post-mortem data, and the restored globals are there.
"$AMBER" machines | grep -E "^$vm +restore-$snap-1 +lua +parked" >/dev/null ||
  fail "amber machines does not show the parked VM: $("$AMBER" machines)"
m=$(get "/api/machines/$vm")
expect_eq "$(jget locals.properties.0.name <<<"$m")" crash "the locals view holds crash"
expect_eq "$(jget locals.properties.1.name <<<"$m")" frames "and frames"
get "/api/machines/$vm" | grep -q '"name":"config"' || fail "the restored globals are in the globals view"

# Explore: expand `frames` as a debugger would, and snapshot the parked VM.
fid=$(jget locals.properties.1.value <<<"$m")
expect_eq "$(code POST "/api/machines/$vm/toggle" "{\"id\":\"$fid\"}")" 202 "toggle frames"
expanded='"name":"frames","value":"[^"]*","flags":"-  ","properties":\[{"name":"\[1\]"'
for i in $(seq 100); do get "/api/machines/$vm" | grep -q "$expanded" && break; sleep 0.05; done
get "/api/machines/$vm" | grep -q "$expanded" || fail "toggling frames expands it in the locals view"
snap2=$("$AMBER" snapshot "$vm" --wait --root globals 2>/dev/null)
"$AMBER" show "$snap2" 'globals.config.mode' | grep -q '"strict"' || fail "the restored state snapshots again"

# Going on runs the parked run to its end; code then runs in the state.
expect_eq "$(code POST "/api/machines/$vm/go")" 202 "go"
req=""
for i in $(seq 100); do
  req=$(post "/api/machines/$vm/run" '{"code":"return config.mode"}' | jget id 2>/dev/null || true)
  [ -n "$req" ] && break
  sleep 0.05
done
[ -n "$req" ] || fail "the VM takes no run after go"
expect_eq "$(wait_request "$req")" done "run after go"
expect_eq "$(get "/api/requests/$req" | jget run.result)" strict "the restored global"
# The snapshot's error and reason travelled with the restore (amber.crash).
req=$(post "/api/machines/$vm/run" \
  '{"code":"local c = debug.getregistry()[\"amber.crash\"] return c.reason .. \": \" .. c.error"}' | jget id)
expect_eq "$(wait_request "$req")" done "run reading amber.crash"
get "/api/requests/$req" | jget run.result | grep -q '^crash: .*crash.lua:3: attempt to perform arithmetic on a nil value' ||
  fail "amber.crash.error in the restored VM: $(get "/api/requests/$req")"
pid=$(get "/api/machines/$vm" | jget pid)
expect_eq "$(code POST "/api/machines/$vm/logout")" 202 "logout"
for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "the inspected VM did not exit at logout"; }
stop_server
echo "ok"
