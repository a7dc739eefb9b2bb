# tests/e2e/analysis_lib.bash
# Shared by the analysis end-to-end tests (tests/e2e/analysis_*.sh): Lua
# programs under amber-lua write snapshots to capture files, `amber import`
# stores them, and the analysis commands read them back.

set -euo pipefail
ROOT=${AMBER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
B=${AMBER_BUILD:-$ROOT/build}
AMBER=$B/amber
LUA=$B/amber-lua
for f in "$AMBER" "$LUA"; do
  [ -x "$f" ] || { echo "missing $f: build with make first" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/amber-analysis.XXXXXX)
export AMBER_DB=$WORK/amber.db
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

expect_eq() { # actual expected what
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# The exit code of a command, its output discarded.
rc() { local r=0; "$@" >/dev/null 2>&1 || r=$?; echo "$r"; }

# run_lua SCRIPT ARGS…: run a Lua program (text in SCRIPT) under the agent.
run_lua() {
  local src=$1; shift
  printf '%s\n' "$src" >"$WORK/prog.lua"
  (cd "$WORK" && "$LUA" prog.lua "$@") || fail "the Lua program failed"
}

# import FILE: store a capture file; prints the new snapshot's id.
import() {
  "$AMBER" import "$1" 2>/dev/null | tail -n 1
}

# jget EXPR < JSON: a value of the JSON on stdin, by a JavaScript accessor
# (".nodes[0].path", ".types.length"); objects are printed as JSON.
jget() {
  node -e '
    const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const v = Function("d", "return d" + process.argv[1])(d);
    console.log(typeof v === "object" ? JSON.stringify(v) : String(v));
  ' "$1"
}
