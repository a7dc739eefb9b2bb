#!/usr/bin/env bash
# `make run`'s script once through (AMBER_RUN_ONCE=1): it starts a server,
# attaches the sample under amber-lua, stores a snapshot, prints how to
# look at it, and leaves nothing running.
source "$(dirname "$0")/server_lib.bash"
[ -x "$B/amber-lua" ] || fail "missing $B/amber-lua: build with make first"

out=$WORK/run.out
BUILD=$(realpath --relative-to="$ROOT" "$B") AMBER_RUN_ONCE=1 AMBER_DEMO_DB=$WORK/demo.db \
  timeout 60 bash "$ROOT/server/demo/run" >"$out" 2>&1 || { cat "$out" >&2; fail "server/demo/run failed"; }
grep -q "^Snapshot 1 of sample.lua is in" "$out" || { cat "$out" >&2; fail "no snapshot reported"; }
grep -q "viewer: http://127.0.0.1:" "$out" || fail "the viewer URL"
grep -q "/api/snapshots/1" "$out" || fail "the API URLs"
players=$("$AMBER" show 1 globals.game.players --db "$WORK/demo.db" | grep -c "table Player")
expect_eq "$players" 8 "players in the snapshot"
"$AMBER" show 1 globals.game.world --db "$WORK/demo.db" | grep -q "nothing = nan" || fail "NaN kept"
url=$(sed -n 's/.*viewer: \(http[^ ]*\)/\1/p' "$out")
r=0
curl -sf "${url}api" >/dev/null 2>&1 || r=$?
[ "$r" != 0 ] || fail "the demo server is still running"
echo "ok"
