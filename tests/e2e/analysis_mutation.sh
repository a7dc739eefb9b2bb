#!/usr/bin/env bash
# A Lua program snapshotted before and after a known mutation: `amber diff`
# reports exactly that mutation, whether objects pair by address (the same
# process) or by path (the same program in another process).
source "$(dirname "$0")/analysis_lib.bash"

run_lua '
local amber = require "amber"
app = {count = 3, items = {{id = 1}}, label = "v1"}
old = {payload = string.rep("x", 100)}
local Item = {__name = "Item"}
collectgarbage()
assert(amber.snapshot{file = "before.xsbug"})
-- the mutation: one field changed, one object added, one dropped
app.count = 4
app.items[2] = setmetatable({id = 2}, Item)
old = nil
collectgarbage()
assert(amber.snapshot{file = "after.xsbug"})
'
a=$(import "$WORK/before.xsbug")
b=$(import "$WORK/after.xsbug")
[ -n "$a" ] && [ -n "$b" ] || fail "import printed no snapshot ids"

d=$("$AMBER" diff "$a" "$b" --json)
expect_eq "$(jget .match <<<"$d")" address "same process pairs by address"
expect_eq "$(jget .removed <<<"$d")" 2 "removed: old and its string"
expect_eq "$(jget .added <<<"$d")" 1 "added: the new Item"
expect_eq "$(jget .changed <<<"$d")" 3 "changed: globals, app, app.items"
removed=$(jget '.nodes.filter(n => n.state == "removed").map(n => n.kind).sort().join()' <<<"$d")
expect_eq "$removed" "string,table" "what was removed"
added=$(jget '.nodes.filter(n => n.state == "added").map(n => n.type).join()' <<<"$d")
expect_eq "$added" "Item" "what was added"
# the changed fields, each with its old and new value
fields=$(jget '.nodes.filter(n => n.state == "changed").flatMap(n => n.fields.map(f =>
  (f.old || f.new).name || "[" + (f.old || f.new).index + "]")).sort().join()' <<<"$d")
expect_eq "$fields" "[2],count,old" "the changed fields"
count=$(jget '.nodes.flatMap(n => n.fields || []).find(f => f.old && f.old.name == "count")' <<<"$d")
expect_eq "$(jget .old.value.value <<<"$count")/$(jget .new.value.value <<<"$count")" 3/4 "count 3 -> 4"
"$AMBER" diff "$a" "$b" | grep -q "count: 3 -> 4" || fail "the text diff shows the change"
"$AMBER" diff "$a" "$b" --show added | grep -q "added .*Item" || fail "--show added"
expect_eq "$("$AMBER" diff "$a" "$b" --show added --json | jget .nodes.length)" 1 "--show added lists one"
same=$("$AMBER" diff "$a" "$b" --show same --limit 10000 --json)
expect_eq "$(jget .nodes.length <<<"$same")" "$(jget .same <<<"$d")" "--show same lists the unchanged"
expect_eq "$(jget '.nodes.every(n => n.state == "same" && n.a !== null && n.b !== null)' <<<"$same")" \
  true "unchanged nodes have both ids"
expect_eq "$("$AMBER" diff "$a" "$b" --limit 1 --offset 1 --json | jget .nodes[0].a)" \
  "$(jget '.nodes[1].a' <<<"$d")" "paging"

# The same program in two processes: every address differs, pairing goes by
# path from the roots, and only the argument (the file name) differs.
src='local amber = require "amber"
app = {count = 3, items = {{id = 1}}, f = function(x) return x + 1 end}
local up = 10
function counter() up = up + 1; return up end
setmetatable(app, {__index = function() return up end})
collectgarbage()
assert(amber.snapshot{file = arg[1]})'
run_lua "$src" one.xsbug
run_lua "$src" two.xsbug
p=$(import "$WORK/one.xsbug")
q=$(import "$WORK/two.xsbug")
d=$("$AMBER" diff "$p" "$q" --json)
expect_eq "$(jget .match <<<"$d")" path "another process pairs by path"
expect_eq "$(jget .matched_by_address <<<"$d")" 0 "no address pairs"
expect_eq "$(jget '.nodes.filter(n => n.state == "added").map(n => n.value).join()' <<<"$d")" \
  two.xsbug "only the argument is new"
expect_eq "$(jget .removed <<<"$d")" 1 "only the old argument is gone"
changed=$(jget '.nodes.filter(n => n.state == "changed").map(n => n.kind).sort().join()' <<<"$d")
expect_eq "$changed" "frame,table" "the arg table and the main chunk's vararg"
echo ok
