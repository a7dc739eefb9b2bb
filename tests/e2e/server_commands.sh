#!/usr/bin/env bash
# Debugger commands relayed from the API to a machine parked at a break:
# the break, frames and locals it reported are visible, and each command
# reaches the machine exactly as xsbug writes it (uppercase "@" ids). A
# machine is let go after its login, as xsbug does, unless --hold.
source "$(dirname "$0")/server_lib.bash"

start_server
machine parked.lua --parked
id=$(machine_id parked.lua)
for i in $(seq 100); do [ "$(get "/api/machines/$id" | jget state)" = parked ] && break; sleep 0.05; done
m=$(get "/api/machines/$id")
expect_eq "$(jget state <<<"$m")" parked "state after a break"
expect_eq "$(jget break.path <<<"$m")" fake.lua "break path"
expect_eq "$(jget break.line <<<"$m")" 12 "break line"
expect_eq "$(jget break.message <<<"$m")" breakpoint "break message"
expect_eq "$(jget frames.0.name <<<"$m")" tick "frame name"
expect_eq "$(jget frames.0.id <<<"$m")" @55D0C1A2B3C0 "frame id"
expect_eq "$(jget locals.properties.1.name <<<"$m")" state "second local"
expect_eq "$(jget locals.properties.1.flags <<<"$m")" "+  " "expandable flag"

expect_eq "$(code POST "/api/machines/$id/select" '{"frame":"@55d0c1a2b3c0"}')" 202 "select"
expect_eq "$(code POST "/api/machines/$id/toggle" '{"id":"55d0c1a2b400"}')" 202 "toggle"
expect_eq "$(code POST "/api/machines/$id/toggle" '{"id":"@xyz"}')" 400 "toggle with a bad id"
expect_eq "$(code POST "/api/machines/$id/breakpoints" \
  '{"set":[{"path":"fake.lua","line":20},{"path":"b.lua","line":3}],"clear":[{"path":"fake.lua","line":12}]}')" 202 "breakpoints"
expect_eq "$(code POST "/api/machines/$id/breakpoints" '{"set":[{"path":"x"}]}')" 400 "breakpoint without a line"
expect_eq "$(get "/api/machines/$id" | jget breakpoints#)" 2 "breakpoints remembered"
expect_eq "$(code POST "/api/machines/$id/breakpoints" '{"replace":[{"path":"c.lua","line":7}]}')" 202 "replace breakpoints"
expect_eq "$(code POST "/api/machines/$id/step-inside")" 202 "step-inside"
expect_eq "$(get "/api/machines/$id" | jget state)" running "running after a step"
expect_eq "$(code POST "/api/machines/$id/go")" 202 "go while running (a no-op for the machine)"
expect_eq "$(code POST "/api/machines/$id/select" '{"frame":"@1"}')" 409 "select while running"
expect_eq "$(code POST "/api/machines/$id/frobnicate")" 404 "unknown command"
expect_eq "$(code POST "/api/machines/$id/abort")" 202 "abort"

for i in $(seq 100); do grep -q "command abort" "$WORK/parked.lua.out" && break; sleep 0.05; done
expected='command go
command select id=@55D0C1A2B3C0
command toggle id=@55D0C1A2B400
command clear-breakpoint path=fake.lua line=12
command set-breakpoint path=fake.lua line=20
command set-breakpoint path=b.lua line=3
command set-all-breakpoints breakpoint=c.lua:7
command step-inside
command go
command abort'
got=$(grep '^command' "$WORK/parked.lua.out")
expect_eq "$got" "$expected" "commands as the machine received them"

stop_server
grep -q "command logout" "$WORK/parked.lua.out" || fail "machines get a logout at shutdown"

# With --hold a machine waits at its login until told to go.
start_server --hold
machine held.lua
held=$(machine_id held.lua)
m=$(get "/api/machines/$held")
expect_eq "$(jget state <<<"$m")" parked "held at login"
expect_eq "$(jget break.message <<<"$m")" "waiting at login" "why it is parked"
expect_eq "$(code POST "/api/machines/$held/breakpoints" '{"set":[{"path":"a.lua","line":1}]}')" 202 "breakpoint before the start"
expect_eq "$(code POST "/api/machines/$held/go")" 202 "go"
expect_eq "$(get "/api/machines/$held" | jget state)" running "running after go"
for i in $(seq 100); do grep -q "command go" "$WORK/held.lua.out" && break; sleep 0.05; done
expect_eq "$(grep '^command' "$WORK/held.lua.out")" 'command set-breakpoint path=a.lua line=1
command go' "the held machine's commands"
stop_server
echo "ok"
