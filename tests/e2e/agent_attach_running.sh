#!/usr/bin/env bash
# Attach to a running loop and snapshot it mid-run: a small test server
# (perl, loopback only) waits for the login, asks for a snapshot while the
# loop runs, then logs the agent out, and the program runs on to its end.
# Done with amber-lua (XSBUG_HOST) and with lua5.4 + amber.attach; the
# stream the server received is checked with the amber module.
set -euo pipefail
B=${AMBER_BUILD:?run through tests/run}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
cd "$tmp"
. "${AMBER_ROOT:?}/tests/e2e/agent_lua54.inc"
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > server.pl <<'PERL'
# server.pl PORTFILE OUTFILE MODE: one machine, then exit (20 s at most).
use strict; use warnings; use IO::Socket::INET;
my ($portfile, $outfile, $mode) = @ARGV;
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                Listen => 1, ReuseAddr => 1) or die "listen: $!";
open my $pf, '>', "$portfile.tmp" or die; print $pf $srv->sockport; close $pf;
rename "$portfile.tmp", $portfile;
$SIG{ALRM} = sub { die "server: timed out\n" }; alarm 20;
my $c = $srv->accept or die "accept: $!";
binmode $c;
open my $out, '>', $outfile or die; binmode $out;
my $buf = '';
sub read_until {
  my $pat = shift;
  while ($buf !~ $pat) {
    my $n = sysread($c, my $chunk, 65536);
    die "server: the machine hung up\n" unless $n;
    $buf .= $chunk; print $out $chunk;
  }
}
read_until(qr/<login [^>]*\/><\/xsbug>\r\n/);
if ($mode eq 'snapshot') {
  select(undef, undef, undef, 0.3);               # let the loop run
  syswrite $c, "\r\n<snapshot id=\"9\" label=\"mid-run\"/>\r\n";
  read_until(qr/<snapshot-end id="9"[^>]*\/><\/xsbug>\r\n/);
  syswrite $c, "\r\n<logout/>\r\n";
} elsif ($mode eq 'abort') {
  syswrite $c, "\r\n<abort/>\r\n";
}
while (sysread($c, my $chunk, 65536)) { print $out $chunk; }
close $out;
PERL

cat > loop.lua <<'LUA'
local amber = require "amber"
local state = { ticks = 0 }
local n, t0 = 0, os.time()
while amber.status().attached do
  n = n + 1
  state.ticks = n
  if os.time() - t0 > 15 then error("the server never logged us out") end
end
print("detached after " .. n .. " loops")
LUA

cat > check.lua <<'LUA'
local amber = require "amber"
local msgs = assert(amber.messages(arg[1]))
local seen, n_local = {}, nil
local nodes = {}
for _, m in ipairs(msgs) do
  for _, item in ipairs(m) do
    seen[item.name] = item
    if item.name == "graph" then
      for _, n in ipairs(item) do nodes[tonumber(n.attr.i)] = n end
    end
  end
end
assert(seen.login.attr.name == arg[2], "login name " .. seen.login.attr.name)
assert(seen["snapshot-begin"].attr.reason == "request")
assert(seen["snapshot-begin"].attr.label == "mid-run")
assert(seen["snapshot-end"].attr.id == "9")
for _, n in pairs(nodes) do
  if n.attr.k == "frame" and n.attr.nm == "main chunk" then
    for _, e in ipairs(n) do
      if e.attr.k == "local" and e.attr.n == "n" then n_local = e.attr.v end
    end
  end
end
assert(n_local and tonumber(n_local:match("^i:(%d+)$")) > 0,
       "the loop counter in the main chunk's frame: " .. tostring(n_local))
print("stream ok: " .. seen["snapshot-end"].attr.nodes .. " nodes, n = " .. n_local)
LUA

wait_port() {
  for _ in $(seq 100); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.05; done
  fail "the test server did not start"
}

# amber-lua, attached through XSBUG_HOST
perl server.pl port1 stream1.xsbug snapshot & srv=$!
port=$(wait_port port1)
XSBUG_HOST=127.0.0.1:$port timeout 20 "$B/amber-lua" loop.lua >out1.txt
wait $srv
grep -q "detached after" out1.txt || fail "the program did not run on"
lua54 check.lua stream1.xsbug loop.lua

# lua5.4 with the module, attached by amber.attach
perl server.pl port2 stream2.xsbug snapshot & srv=$!
port=$(wait_port port2)
lua54 -e "require('amber').attach('127.0.0.1:$port', {name = 'mod-loop'})" loop.lua >out2.txt
wait $srv
grep -q "detached after" out2.txt || fail "the module program did not run on"
lua54 check.lua stream2.xsbug mod-loop

# <abort/> ends the program with a clear message and status 1
perl server.pl port3 stream3.xsbug abort & srv=$!
port=$(wait_port port3)
set +e
timeout 20 "$B/amber-lua" --attach "127.0.0.1:$port" loop.lua >out3.txt 2>err3.txt
st=$?
set -e
wait $srv || true
[ "$st" = 1 ] || fail "abort: exit status $st, want 1"
grep -q "abort" err3.txt || fail "abort: no message on stderr"
echo "agent attach to a running loop: ok"
