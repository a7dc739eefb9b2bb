#!/usr/bin/env bash
# amber-lua behaves like lua: -e, -l, -v, -i, -, --, script arguments, the
# arg table, LUA_INIT, exit statuses and error messages; --help and bad
# options explain themselves.
set -euo pipefail
B=${AMBER_BUILD:?run through tests/run}
L="$B/amber-lua"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export AMBER_CAPTURE=off
fail() { echo "FAIL: $*" >&2; exit 1; }
same() { # what, expected, actual
  [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}

same "-e" "3" "$("$L" -e 'print(1 + 2)')"
same "-e twice, in order" "a
b" "$("$L" -e 'print("a")' -e 'print("b")')"
same "-v" "Lua 5.4" "$("$L" -v | head -1 | cut -c1-7)"
"$L" -v | grep -q "amber agent" || fail "-v names the agent"

cat > args.lua <<'LUA'
print(select('#', ...), table.concat({...}, ','), arg[0], arg[1], arg[-1] ~= nil)
LUA
same "script args" "2	x,y	args.lua	x	true" "$("$L" args.lua x y)"
same "-- then script" "1	z	args.lua	z	true" "$("$L" -- args.lua z)"
same "stdin as -" "1	q	-	q	true" "$("$L" - q < args.lua)"
same "stdin without args" "hi" "$(echo 'print("hi")' | "$L")"

mkdir -p mods && echo 'return { twice = function(x) return 2 * x end }' > mods/m.lua
same "-l mod" "8" "$(LUA_PATH='mods/?.lua' "$L" -l m -e 'print(m.twice(4))')"
same "-l g=mod" "10" "$(LUA_PATH='mods/?.lua' "$L" -l g=m -e 'print(g.twice(5))')"
same "require amber built in" "function" "$("$L" -e 'print(type(require("amber").attach))')"

same "LUA_INIT" "7" "$(LUA_INIT='seven = 7' "$L" -e 'print(seven)')"
same "LUA_INIT_5_4 wins" "8" "$(LUA_INIT='v = 7' LUA_INIT_5_4='v = 8' "$L" -e 'print(v)')"
same "-E ignores LUA_INIT" "nil" "$(LUA_INIT='seven = 7' "$L" -E -e 'print(seven)')"

out=$(printf 'local t = {1,\n2, 3} ; x = #t * 2\nx\n' | "$L" -i 2>&1)
grep -q "^>* *6$" <<<"$(tr '>' '\n' <<<"$out" | sed 's/^ *//')" || fail "-i continues an incomplete statement"
out=$(printf '1 + 41\nerror("oops")\nreturn "still here"\n' | "$L" -i 2>&1)
grep -q "42" <<<"$out" || fail "-i prints expression values"
grep -q "oops" <<<"$out" || fail "-i reports errors"
grep -q "still here" <<<"$out" || fail "-i goes on after an error"

set +e
"$L" -e 'error("bad thing")' 2>err.txt; st=$?
set -e
same "error status" 1 "$st"
grep -q "(command line):1: bad thing" err.txt || fail "error message"
set +e
"$L" -e 'os.exit(3)'; st=$?
set -e
same "os.exit status" 3 "$st"
set +e
"$L" --frobnicate 2>err.txt; st=$?
set -e
same "bad option status" 1 "$st"
grep -q "unrecognized option '--frobnicate'" err.txt || fail "names the bad option"
grep -q "usage:" err.txt || fail "usage after a bad option"
"$L" --help | grep -q -- "--attach HOST:PORT" || fail "--help lists --attach"
set +e
"$L" -e 'x = ' 2>err.txt; st=$?
set -e
same "syntax error status" 1 "$st"
grep -q "unexpected symbol near <eof>" err.txt || fail "syntax error message"
set +e
"$L" --attach nohostport -e 'print("runs anyway")' >out.txt 2>err.txt; st=$?
set -e
same "bad --attach still runs" 0 "$st"
grep -q "host:port" err.txt || fail "bad address explained"
grep -q "runs anyway" out.txt || fail "program ran"
echo "amber-lua interpreter: ok"
