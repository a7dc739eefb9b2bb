#!/usr/bin/env bash
# Chrome .heapsnapshot export of a Lua heap with weak tables, closures,
# shared upvalues, coroutines and object keys, read back by an independent
# parser (tests/heapsnapshot, npm @vscode/v8-heap-parser) whose node counts
# and retained sizes must equal amber's own.
source "$(dirname "$0")/analysis_lib.bash"
CHECK=$ROOT/tests/heapsnapshot
[ -d "$CHECK/node_modules/@vscode/v8-heap-parser" ] ||
  fail "the parser is not installed: run make deps (or npm install in $CHECK)"

run_lua '
local amber = require "amber"
local Point = {__name = "Point"}
points = {}
for i = 1, 50 do points[i] = setmetatable({x = i, y = -i, tag = "p" .. i}, Point) end
cache = setmetatable({}, {__mode = "v"})        -- weak values
for i = 1, 10 do cache[i] = {big = string.rep("z", 64 * i)} end
seen = setmetatable({}, {__mode = "k"})         -- weak keys (ephemerons)
seen[points[1]] = {note = "first"}
index = {}
index[points[2]] = "second"                      -- a key that is a table
local shared = 0
function inc() shared = shared + 1 end           -- two closures, one upvalue
function get() return shared end
gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
gen()
assert(amber.snapshot{file = "heap.xsbug"})
'
s=$(import "$WORK/heap.xsbug")
"$AMBER" export-heapsnapshot "$s" "$WORK/heap.heapsnapshot" 2>/dev/null ||
  fail "export-heapsnapshot failed"

# amber's summary and every node's retained size, a page at a time.
"$AMBER" summary "$s" --json >"$WORK/amber.jsonl"
n=$(jget .nodes <"$WORK/amber.jsonl")
for ((off = 0; off < n; off += 10000)); do
  "$AMBER" top "$s" --json --offset "$off" --limit 10000 >>"$WORK/amber.jsonl"
done
node "$CHECK/check.js" "$WORK/heap.heapsnapshot" "$WORK/amber.jsonl" || fail "the parser disagrees"

# To standard output, and the errors.
"$AMBER" export-heapsnapshot "$s" - >"$WORK/stdout.heapsnapshot" 2>/dev/null ||
  fail "export to standard output"
cmp -s "$WORK/stdout.heapsnapshot" "$WORK/heap.heapsnapshot" || fail "the same bytes on standard output"
expect_eq "$(rc "$AMBER" export-heapsnapshot 999 "$WORK/x.heapsnapshot")" 1 "unknown snapshot"
[ ! -e "$WORK/x.heapsnapshot" ] || fail "a failed export leaves no file"
expect_eq "$(rc "$AMBER" export-heapsnapshot)" 2 "no snapshot id"
expect_eq "$(rc "$AMBER" export-heapsnapshot "$s" "$WORK/no/such/dir/x.heapsnapshot")" 1 "unwritable file"
echo ok
