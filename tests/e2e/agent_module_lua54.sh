#!/usr/bin/env bash
# `require "amber"` in Debian's stock lua5.4: snapshots to capture files,
# roots and exits, reading captures back, and attaching to a server that is
# not there (the program runs on; the agent keeps retrying quietly).
set -euo pipefail
B=${AMBER_BUILD:?run through tests/run}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
. "${AMBER_ROOT:?}/tests/e2e/agent_lua54.inc"

cat > module.lua <<'LUA'
local amber = require "amber"
assert(type(amber.version) == "string")
app = { state = { users = { "ann", "bob" }, count = 2 }, cache = { big = true } }

-- 1. two snapshots into one capture file: one login, two snapshots
local a = assert(amber.snapshot{ file = "two.xsbug", label = "first" })
local b = assert(amber.snapshot{ file = "two.xsbug", roots = { "path:app.state" },
                                 exits = { "app.cache" } })
assert(a.nodes > b.nodes and b.nodes >= 4, a.nodes .. " " .. b.nodes)
assert(#a.hash == 16 and a.file == "two.xsbug")
local msgs = assert(amber.messages("two.xsbug"))
local logins, begins, labels = 0, 0, {}
for _, m in ipairs(msgs) do
  for _, item in ipairs(m) do
    if item.name == "login" then logins = logins + 1 end
    if item.name == "snapshot-begin" then
      begins = begins + 1
      labels[#labels + 1] = item.attr.label or "-"
    end
  end
end
assert(logins == 1 and begins == 2, logins .. " logins, " .. begins .. " snapshots")
assert(labels[1] == "first" and labels[2] == "-")

-- 2. decode refuses bad input with a reason
local ok, err = amber.decode("<xsbug><login></xsbug>")
assert(ok == nil and err:find("byte"), tostring(err))

-- 3. a server that is not there: attach succeeds, the program runs on
local port = tonumber(arg[1])
assert(amber.attach("127.0.0.1:" .. port, { backoff_min_ms = 10, backoff_max_ms = 50 }))
local t0, n = os.clock(), 0
while os.clock() - t0 < 0.3 do n = n + 1 end
local st = amber.status()
assert(st.attached and not st.connected, "should be attached, not connected")
assert(st.attempts >= 2, "retried " .. st.attempts .. " times")
assert(st.last_error:find("connect"), st.last_error)
local ok2, err2 = amber.snapshot{}
assert(not ok2 and err2:find("not connected"), tostring(err2))
assert(amber.poll() == false)
print("hello while detached from any server")   -- print still works
assert(amber.detach())
assert(not amber.status().attached)
-- 4. a second attach after detach is allowed; a bad address is refused
local ok3, err3 = amber.attach("nohostport")
assert(not ok3 and err3:find("host:port"), tostring(err3))
print("module ok", n)
LUA

# a port with no listener: bind one with perl, then let it go
port=$(perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die; print $s->sockport')
out=$(lua54 module.lua "$port")
echo "$out"
grep -q "hello while detached" <<<"$out"
grep -q "module ok" <<<"$out"
echo "agent module: ok"
