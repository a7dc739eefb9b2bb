#!/usr/bin/env bash
# The three-snapshot leak filter on a program that leaks on purpose: each
# request registers a listener it never removes, and makes garbage that is
# freed. Only what the first request left behind is reported.
source "$(dirname "$0")/analysis_lib.bash"

run_lua '
local amber = require "amber"
local function snap(f) collectgarbage(); assert(amber.snapshot{file = f}) end
listeners = {}
local Listener = {__name = "Listener"}
local function on_request(n)
  -- the bug: every request adds a listener and none is ever removed
  listeners[#listeners + 1] = setmetatable({id = n, cb = function() return n end}, Listener)
  local scratch = {}
  for i = 1, 10 do scratch[i] = {i} end -- garbage, freed by the collection
end
on_request(0)
snap("baseline.xsbug")
on_request(1)
snap("target.xsbug")
on_request(2)
snap("final.xsbug")
'
a=$(import "$WORK/baseline.xsbug")
b=$(import "$WORK/target.xsbug")
c=$(import "$WORK/final.xsbug")

l=$("$AMBER" leaks "$a" "$b" "$c" --json)
expect_eq "$(jget .total <<<"$l")" 3 "leaked objects: the listener, its closure, the closure's upvalue"
expect_eq "$(jget '.nodes.map(n => n.kind).sort().join()' <<<"$l")" "function,table,upvalue" "leaked kinds"
expect_eq "$(jget '.nodes.find(n => n.type == "Listener").path' <<<"$l")" "globals.listeners[2]" \
  "where the leak is held"
expect_eq "$(jget '.types.find(t => t.type == "Listener").count' <<<"$l")" 1 "by type"
"$AMBER" leaks "$a" "$b" "$c" | grep -q "table Listener  at globals.listeners\[2\]" ||
  fail "the text form names the path"
# The path resolves back to the object in the target snapshot.
id=$(jget '.nodes.find(n => n.type == "Listener").id' <<<"$l")
"$AMBER" show "$b" "globals.listeners[2]" | grep -q "node #$id table" || fail "path resolves"

# No leak between a snapshot and itself.
expect_eq "$("$AMBER" leaks "$a" "$a" "$a" --json | jget .total)" 0 "nothing new, nothing leaked"
# From baseline to final both requests' listeners are new, and so is the
# file name the running snap() holds in its frame.
l=$("$AMBER" leaks "$a" "$c" "$c" --json)
expect_eq "$(jget '.types.find(t => t.type == "Listener").count' <<<"$l")" 2 "two listeners from a to c"
expect_eq "$(jget '.nodes.filter(n => n.kind == "string").map(n => n.value).join()' <<<"$l")" \
  final.xsbug "the live file name"
expect_eq "$(jget .total <<<"$l")" 7 "nothing else"
echo ok
