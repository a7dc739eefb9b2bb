#!/usr/bin/env bash
# The analysis commands as people use them: --help, exit codes (0 ok, 1 not
# found, 2 usage, 3 no database), summary, top, path, dominators, paging,
# and the results kept in the database after the first computation.
source "$(dirname "$0")/analysis_lib.bash"

for c in summary top path dominators diff leaks export-heapsnapshot; do
  "$AMBER" "$c" --help | grep -q "usage: amber $c" || fail "$c --help"
  expect_eq "$(rc "$AMBER" "$c")" 2 "$c without arguments"
  expect_eq "$(rc "$AMBER" "$c" --bogus 1)" 2 "$c with an unknown option"
done
expect_eq "$(rc "$AMBER" summary 1 --db "$WORK/none.db")" 3 "no database"
[ ! -e "$WORK/none.db" ] || fail "a missing database is not created"

run_lua '
local amber = require "amber"
local Node = {__name = "Node"}
local head
for i = 1, 100 do head = setmetatable({next = head, value = string.rep("v", i)}, Node) end
list = head
weak = setmetatable({{only = "weakly held"}}, {__mode = "v"})
config = {name = "demo", retries = 3}
assert(amber.snapshot{file = "s.xsbug"})
'
s=$(import "$WORK/s.xsbug")
expect_eq "$(rc "$AMBER" summary 999)" 1 "unknown snapshot"
expect_eq "$(rc "$AMBER" summary x)" 2 "a snapshot id that is not a number"
expect_eq "$(rc "$AMBER" top "$s" --limit x)" 2 "a limit that is not a number"
expect_eq "$(rc "$AMBER" path "$s" 999999)" 1 "unknown node"
expect_eq "$(rc "$AMBER" path "$s" globals.nothere)" 1 "unknown path"
expect_eq "$(rc "$AMBER" diff "$s" "$s" --match sideways)" 2 "unknown --match"
expect_eq "$(rc "$AMBER" diff "$s" "$s" --show everything)" 2 "unknown --show"

# summary: the list of 100 Nodes retains itself and its strings, counted once.
sum=$("$AMBER" summary "$s" --json)
node_row=$(jget '.types.find(t => t.type == "Node")' <<<"$sum")
expect_eq "$(jget .count <<<"$node_row")" 100 "100 Nodes"
list_id=$("$AMBER" show "$s" globals.list --json | jget .node.id)
expect_eq "$(jget .retained <<<"$node_row")" \
  "$("$AMBER" dominators "$s" "$list_id" --json | jget .retained)" \
  "the Node row retains what the list head retains"
"$AMBER" summary "$s" | grep -q "^table *Node *100 " || fail "the text summary"
expect_eq "$("$AMBER" summary "$s" --limit 2 --json | jget .types.length)" 2 "--limit"
"$AMBER" summary "$s" --limit 2 | grep -q "more rows: --offset 2" || fail "the next page is named"
expect_eq "$(sqlite3 "$AMBER_DB" "SELECT count(*) FROM analysis_snapshots WHERE snapshot=$s")" 1 \
  "the analysis is kept"

# top: the list head first; pages line up.
expect_eq "$("$AMBER" top "$s" --limit 1 --json | jget .nodes[0].id)" "$list_id" "the head retains most"
three=$("$AMBER" top "$s" --limit 3 --json | jget '.nodes.map(n => n.id).join()')
paged=$(for o in 0 1 2; do "$AMBER" top "$s" --offset $o --limit 1 --json | jget .nodes[0].id; done | paste -sd,)
expect_eq "$paged" "$three" "pages of one line up with a page of three"

# path: by id or by path; weak references are followed unless --strong.
"$AMBER" path "$s" globals.config.name | grep -q "globals.config.name" || fail "path by path"
expect_eq "$("$AMBER" path "$s" globals.list.next.next --json | jget .paths[0].path)" \
  globals.list.next.next "the shortest path"
w=$("$AMBER" show "$s" 'globals.weak[1]' --json | jget .node.id)
"$AMBER" path "$s" "$w" | grep -q "through a weak reference" || fail "a weak path is marked"
"$AMBER" path "$s" "$w" --strong | grep -q "nothing reaches it" || fail "--strong"
expect_eq "$("$AMBER" path "$s" "@$w" --strong --json | jget .paths.length)" 0 "@ID and --strong"

# dominators: the list head keeps its successor alive alone.
d=$("$AMBER" dominators "$s" "$list_id" --json)
expect_eq "$(jget .dominated[0].type <<<"$d")" Node "the next Node"
"$AMBER" dominators "$s" "$list_id" | grep -q "it alone keeps" || fail "dominators text"
echo ok
