#!/usr/bin/env bash
# The server with a real Moddable XS machine (xsnap, built from npm by
# tests/xs/build-xsnap): it logs in and is let go as xsbug would, parks at
# `debugger;` with its frames, locals and log visible through the API, a
# toggle expands an object, go lets it finish; and it is refused snapshots
# (XS announces no amber features).
source "$(dirname "$0")/server_lib.bash"

rc=0
xsnap=$(BUILD=$B bash "$ROOT/tests/xs/build-xsnap") || rc=$?
if [ "$rc" != 0 ]; then
  if [ "$rc" = 3 ] && [ "${AMBER_XS_OPTIONAL:-0}" = 1 ] && [ "${CI:-}" != true ]; then
    echo "SKIP: no real XS machine: @agoric/xsnap could not be fetched through npm"
    exit 0
  fi
  fail "could not build xsnap (tests/xs/build-xsnap exit status $rc)"
fi

start_server
app=$ROOT/tests/xs/peer_app.js
# Started directly (not under timeout) so that a failed test kills xsnap
# itself: left parked without its debugger, it would spin forever.
XSBUG_HOST=127.0.0.1:$MPORT "$xsnap" "$app" >"$WORK/xs.out" 2>&1 &
xs_pid=$!
PIDS+=("$xs_pid")
id=$(machine_id xsnap)
for i in $(seq 200); do [ "$(get "/api/machines/$id" | jget state)" = parked ] && break; sleep 0.05; done
m=$(get "/api/machines/$id")
expect_eq "$(jget state <<<"$m")" parked "parked at debugger;"
expect_eq "$(jget title <<<"$m")" XS "login value"
expect_eq "$(jget features# <<<"$m")" 0 "no amber features"
expect_eq "$(jget break.line <<<"$m")" 16 "break line"
expect_eq "$(jget frames.0.name <<<"$m")" work "innermost frame"
expect_eq "$(jget locals.name <<<"$m")" work "locals of the selected frame"
expect_eq "$(get "/api/machines/$id/log" | jget lines.0.text)" 'peer_app: trace <1> & done' \
  "trace() as a log line, unescaped"
obj=$(jget locals <<<"$m" | tr '{' '\n' | grep '"name":"obj"' | sed -n 's/.*"value":"\(@[0-9A-F]*\)".*/\1/p')
[ -n "$obj" ] || fail "no obj local"
expect_eq "$(code POST "/api/machines/$id/snapshot" '{}')" 409 "no snapshots from XS"
expect_eq "$(code POST "/api/machines/$id/toggle" "{\"id\":\"$obj\"}")" 202 "toggle"
for i in $(seq 100); do
  get "/api/machines/$id" | jget locals | grep -q '"name":"y","value":"'"'"'why'"'"'"' && break
  sleep 0.05
done
get "/api/machines/$id" | jget locals | grep -q '"name":"y","value":"'"'"'why'"'"'"' ||
  fail "the toggled object's properties"
expect_eq "$(code POST "/api/machines/$id/go")" 202 "go"
for i in $(seq 200); do kill -0 "$xs_pid" 2>/dev/null || break; sleep 0.05; done
rc=0
wait "$xs_pid" || rc=$?
expect_eq "$rc" 0 "xsnap exit status"
grep -q "peer_app: done 18" "$WORK/xs.out" || fail "the program ran to its end"
for i in $(seq 100); do [ "$(machine_count)" = 0 ] && break; sleep 0.05; done
expect_eq "$(machine_count)" 0 "the machine is gone"
stop_server
echo "ok"
