#!/usr/bin/env bash
# amber-lua captures an uncaught error with its live frames and locals into
# a capture file (--capture, $AMBER_CAPTURE or amber-crash-PID.xsbug), exits
# 1 with lua's usual message; the capture is read back with stock lua5.4 and
# the amber module.
set -euo pipefail
B=${AMBER_BUILD:?run through tests/run}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
. "${AMBER_ROOT:?}/tests/e2e/agent_lua54.inc"
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > crash.lua <<'LUA'
local config = { retries = 3, name = "svc" }
local function parse(line, n)
  local fields = {}
  for w in line:gmatch("%S+") do fields[#fields + 1] = w end
  return fields[n] + 1
end
local function main()
  local count = 0
  for _, l in ipairs({"a 1", "b x"}) do
    count = count + parse(l, 2)
  end
  return count
end
print(main())
LUA

cat > check.lua <<'LUA'
-- Read a capture and check the crash's frames and locals.
local amber = require "amber"
local msgs = assert(amber.messages(arg[1]))
local login, begin, finish, nodes = nil, nil, nil, {}
for _, m in ipairs(msgs) do
  for _, item in ipairs(m) do
    if item.name == "login" then login = item
    elseif item.name == "snapshot-begin" then begin = item
    elseif item.name == "snapshot-end" then finish = item
    elseif item.name == "graph" then
      for _, n in ipairs(item) do
        local id = tonumber(n.attr.i)
        local node = nodes[id] or { attr = n.attr, edges = {} }
        for _, e in ipairs(n) do node.edges[#node.edges + 1] = e.attr end
        nodes[id] = node
      end
    end
  end
end
local function check(cond, what) if not cond then error("check failed: " .. what, 2) end end
check(login and login.attr.name == "crash.lua", "login names the script")
check(login.attr.vm == "lua" and login.attr.pid, "login has vm and pid")
check(begin and begin.attr.reason == "crash", "snapshot-begin reason=crash")
check(begin.attr.error:find("crash.lua:5: attempt to add", 1, true), "error text")
check(begin.attr.traceback:find("in local 'main'", 1, true), "traceback")
check(finish and tonumber(finish.attr.nodes) == #nodes + 1, "every node sent")
local function value(ref)
  if ref:sub(1, 1) ~= "@" then return ref end
  local n = nodes[tonumber(ref:sub(2))]
  return n.attr.k == "string" and n.attr.v or n
end
local frames, nframes = {}, 0
for _, n in pairs(nodes) do
  if n.attr.k == "frame" then frames[n.attr.nm] = n; nframes = nframes + 1 end
end
local function locals(f)
  local t = {}
  for _, e in ipairs(f.edges) do
    if e.k == "local" then t[e.n] = value(e.v) end
  end
  return t
end
check(frames.parse and frames.parse.attr.l == "5", "frame parse at line 5")
local l = locals(frames.parse)
check(l.line == "b x" and l.n == "i:2", "parse's arguments")
check(frames.main and frames.main.attr.l == "10", "frame main at line 10")
check(locals(frames.main).count == "i:2", "main's count")
local mc = frames["main chunk"]
check(mc and mc.attr.l == "14", "main chunk at line 14")
local config = locals(mc).config
local fields = {}
for _, e in ipairs(config.edges) do fields[e.n] = value(e.v) end
check(fields.retries == "i:3" and fields.name == "svc", "config table")
print("capture ok: " .. nframes .. " frames checked, " .. finish.attr.nodes .. " nodes")
LUA

# 1. --capture FILE
set +e
"$B/amber-lua" --capture c.xsbug crash.lua >out.txt 2>err.txt
st=$?
set -e
cat err.txt
[ "$st" = 1 ] || fail "exit status $st, want 1"
grep -q "crash.lua:5: attempt to add a 'string' with a 'number'" err.txt || fail "lua's message"
grep -q "stack traceback:" err.txt || fail "traceback on stderr"
grep -q "crash captured in c.xsbug" err.txt || fail "where the capture went"
lua54 check.lua c.xsbug

# 2. the default name, in the cwd
set +e
"$B/amber-lua" crash.lua 2>err2.txt
st=$?
set -e
[ "$st" = 1 ] || fail "exit status $st (default capture)"
f=$(ls amber-crash-*.xsbug)
grep -q "crash captured in $f" err2.txt || fail "default capture named on stderr"
lua54 check.lua "$f"

# 3. $AMBER_CAPTURE, and 'off'
AMBER_CAPTURE=env.xsbug "$B/amber-lua" crash.lua 2>/dev/null && fail "should fail"
[ -s env.xsbug ] || fail "AMBER_CAPTURE not honoured"
rm -f amber-crash-*.xsbug
AMBER_CAPTURE=off "$B/amber-lua" crash.lua 2>err3.txt && fail "should fail"
! ls amber-crash-*.xsbug 2>/dev/null || fail "capture written although off"
! grep -q "captured" err3.txt || fail "claims a capture although off"

# 4. stock lua5.4 with the module: xpcall(main, amber.msgh)
cat > viamodule.lua <<'LUA'
local amber = require "amber"
local function inner(v) local doubled = v * 2; error({code = doubled}) end
local ok, tb = xpcall(inner, amber.msgh, 21)
assert(not ok and tb:find("error object is a table value", 1, true), tb)
local st = amber.status()
assert(st.last_capture == "mod.xsbug", tostring(st.last_capture))
print("module capture ok")
LUA
AMBER_CAPTURE=mod.xsbug lua54 viamodule.lua 2>/dev/null
grep -q 'reason="crash"' mod.xsbug || fail "module crash capture"
echo "agent crash capture: ok"
