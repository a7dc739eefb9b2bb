#!/usr/bin/env bash
# Restore across processes with amber-lua: a program that required penlight
# and dkjson snapshots itself to a capture file; a fresh process restores it
# (refused without trust, refused when altered) and computes the same output;
# a crash capture restores into a VM where amber.crash holds frames and locals.
set -euo pipefail
cd "$(dirname "$0")/../.."
LUA=${AMBER_BUILD:-$PWD/${BUILD:-build}}/amber-lua
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$LUA" ] || fail "$LUA is not built (make all)"

cat >"$WORK/app.lua" <<'EOF'
local amber = require "amber"
local List = require "pl.List"
local json = require "dkjson"
state = {items = List{5, 3}, n = 0}
local counter = (function() local c = 0 return function() c = c + 1 return c end end)()
function step(k)
  for _ = 1, k do
    state.n = state.n + 1
    state.items:append(state.n * 3 % 7)
  end
  return json.encode({n = state.n, tick = counter(),
                      items = {table.unpack(state.items:clone():sort())}},
                     {keyorder = {"n", "tick", "items"}})
end
step(2)
assert(amber.snapshot{file = arg[1], roots = {"globals", "registry"}})
print(step(4))
EOF

cat >"$WORK/resume.lua" <<'EOF'
local amber = require "amber"
local ok, err = amber.restore(arg[1])
assert(ok == nil and err:match("%-%-trust%-bytecode"), "untrusted restore must be refused")
local report = assert(amber.restore(arg[1], {trust = true}))
assert(report.nplaceholders == 0, "placeholders: " .. report.nplaceholders)
print(step(4))
EOF

"$LUA" "$WORK/app.lua" "$WORK/app.xsbug" >"$WORK/original.out"
"$LUA" "$WORK/resume.lua" "$WORK/app.xsbug" >"$WORK/restored.out"
cmp -s "$WORK/original.out" "$WORK/restored.out" ||
  fail "restored program printed $(cat "$WORK/restored.out"), the original $(cat "$WORK/original.out")"
grep -q '"n":6,"tick":2' "$WORK/restored.out" || fail "unexpected output $(cat "$WORK/restored.out")"

# One altered byte in a record: the hash no longer matches, nothing loads.
sed 's/pl\.List/pl.Lisp/' "$WORK/app.xsbug" >"$WORK/altered.xsbug"
cmp -s "$WORK/app.xsbug" "$WORK/altered.xsbug" && fail "the alteration did not apply"
cat >"$WORK/refuse.lua" <<'EOF'
local r, e = require("amber").restore(arg[1], {trust = true})
assert(r == nil and e:match("hash mismatch"), tostring(e))
assert(step == nil, "nothing may be rebound")
EOF
"$LUA" "$WORK/refuse.lua" "$WORK/altered.xsbug" || fail "an altered capture was not refused"

# A crash capture: the frames and locals of the failed call come back.
cat >"$WORK/crash.lua" <<'EOF'
local function parse(line)
  local total = 0
  for f in line:gmatch("[^,]+") do total = total + tonumber(f) end
  return total
end
config = {mode = "strict"}
print(parse("1,2,x"))
EOF
cat >"$WORK/inspect.lua" <<'EOF'
assert(require("amber").restore(arg[1], {trust = true}))
local crash = debug.getregistry()["amber.crash"]
assert(crash.reason == "crash")
assert(crash.error:match("arithmetic on a nil value"), crash.error)
local frame = crash.frames[1]
local vars = {}
for _, l in ipairs(frame.locals) do vars[l.name] = l.value end
print(frame.name, frame.line, vars.line, vars.total, config.mode)
EOF
(cd "$WORK" && "$LUA" --capture "$WORK/crash.xsbug" crash.lua >/dev/null 2>&1) &&
  fail "the crashing script exited 0"
[ -s "$WORK/crash.xsbug" ] || fail "no crash capture was written"
got=$("$LUA" "$WORK/inspect.lua" "$WORK/crash.xsbug")
[ "$got" = "$(printf 'parse\t3\t1,2,x\t3\tstrict')" ] || fail "crash inspection printed: $got"
echo "restore across processes: ok"
