#!/usr/bin/env bash
# The `amber` command line: every subcommand's --help, machines and snapshot
# through a running server, list/show/frames/export/import on the database,
# and the exit codes (0 ok, 1 not found, 2 usage, 3 unreachable).
source "$(dirname "$0")/server_lib.bash"

rc() { local r=0; "$@" >/dev/null 2>&1 || r=$?; echo "$r"; }

for c in serve machines snapshot list show frames import export; do
  "$AMBER" "$c" --help | grep -q "usage: amber $c" || fail "$c --help"
done
"$AMBER" --help | grep -q snapshot || fail "amber --help"
expect_eq "$(rc "$AMBER")" 2 "no command"
expect_eq "$(rc "$AMBER" frobnicate)" 2 "unknown command"
expect_eq "$(rc "$AMBER" list --bogus)" 2 "unknown option"
expect_eq "$(rc "$AMBER" show 1)" 2 "show without a node"
expect_eq "$(rc "$AMBER" machines --server http://127.0.0.1:1)" 3 "no server"
expect_eq "$(rc "$AMBER" list --db "$WORK/none.db")" 3 "no database"

start_server
machine cli.lua --nodes 500
machine cli.lua --nodes 10 --features ""
for i in $(seq 100); do [ "$(get /api/machines | jget '' | grep -o '"name":"cli.lua"' | wc -l)" = 2 ] && break; sleep 0.05; done
"$AMBER" machines | grep -q "cli.lua" || fail "machines lists the machine"
"$AMBER" machines --json | jget '#' | grep -qx 2 || fail "machines --json"

# Two machines share the name: the name is ambiguous, the id is not.
expect_eq "$(rc "$AMBER" snapshot cli.lua --wait)" 1 "ambiguous machine name"
expect_eq "$(rc "$AMBER" snapshot nosuch --wait)" 1 "unknown machine"
ids=$(get /api/machines | jget '' | grep -o '"id":[0-9]*,"name":"cli.lua"[^}]*"features":\["snapshot"' |
      sed -n 's/"id":\([0-9]*\).*/\1/p')
snap=$("$AMBER" snapshot "$ids" --wait --label "from the cli" --root globals --exit io.stdout)
[ -n "$snap" ] || fail "snapshot --wait printed no id"
req=$("$AMBER" snapshot "$ids" 2>/dev/null)
expect_eq "$(wait_request "$req")" done "snapshot without --wait sends the request"

# Reading the database directly.
"$AMBER" list | grep -q "from the cli" || fail "list shows the label"
expect_eq "$("$AMBER" list --json | head -n1 | jget reason)" request "list --json"
"$AMBER" show "$snap" 1 --limit 3 | grep -q "answer = 42" || fail "show node 1"
"$AMBER" show "$snap" globals.greeting | grep -q 'string' || fail "show by path"
"$AMBER" show "$snap" globals.greeting | grep -qF 'hi\x00there\xff' || fail "show escapes bytes"
"$AMBER" show "$snap" globals.half | grep -qx "globals.half = 0.5" || fail "show a scalar"
"$AMBER" show "$snap" @10 --retainers | grep -q "via index" || fail "show --retainers"
expect_eq "$("$AMBER" show "$snap" 1 --json --limit 2 | jget edges#)" 2 "show --json"
expect_eq "$(rc "$AMBER" show "$snap" globals.nothere)" 1 "show an unknown path"
expect_eq "$(rc "$AMBER" show 999 1)" 1 "show an unknown snapshot"
"$AMBER" frames "$snap" | grep -q "no frames" || fail "frames of a request snapshot"

# Export both formats, whole and from a node.
"$AMBER" export "$snap" -o "$WORK/all.jsonl"
expect_eq "$(wc -l <"$WORK/all.jsonl" | tr -d ' ')" 502 "a header, a line per node, an end line"
"$AMBER" export "$snap" --format dot --from globals --depth 1 >"$WORK/part.dot"
grep -q "digraph" "$WORK/part.dot" || fail "dot export"
expect_eq "$(rc "$AMBER" export "$snap" --format xml)" 2 "unknown format"

# Import: a capture of two snapshots, then a damaged one.
"$HELPER" capture "$WORK/two.xsbug" 300 2
imported=$("$AMBER" import "$WORK/two.xsbug" 2>/dev/null | wc -l | tr -d ' ')
expect_eq "$imported" 2 "imported snapshots"
size=$(stat -c %s "$WORK/two.xsbug")
"$HELPER" capture "$WORK/cut.xsbug" 300 2 $((size * 3 / 4))
before=$("$AMBER" list --json --limit 0 | wc -l | tr -d ' ')
expect_eq "$(rc "$AMBER" import "$WORK/cut.xsbug")" 1 "a damaged capture fails"
after=$("$AMBER" list --json --limit 0 | wc -l | tr -d ' ')
expect_eq "$after" $((before + 1)) "only the complete snapshot of the damaged capture"

stop_server
echo "ok"
