#!/usr/bin/env bash
# The viewer in headless Chromium: a real amber-lua program is snapshotted by
# a real server, then viewer/tests/browse.mjs browses it as a person would.
source "$(dirname "$0")/server_lib.bash"
LUA=$B/amber-lua
[ -x /usr/bin/chromium ] || fail "chromium is not installed (.ci/deps installs it)"
[ -d "$ROOT/viewer/node_modules/playwright-core" ] || fail "viewer npm packages missing (.ci/deps installs them)"

start_server --viewer "$ROOT/viewer"
cat >"$WORK/app.lua" <<'LUA'
app = { state = { items = {}, name = "<img src=x onerror=alert(1)>" } }
for i = 1, 120 do app.state.items[i] = { id = i, label = "item" .. i } end
local t0 = os.time()
while os.time() - t0 < 30 do for _ = 1, 1e5 do end end
LUA
XSBUG_HOST=127.0.0.1:$MPORT "$LUA" "$WORK/app.lua" >"$WORK/app.out" 2>&1 &
PIDS+=($!)
id=$(machine_id app.lua)
req=$(snapshot_via_api "$id" '{"roots":["globals"]}')
expect_eq "$(wait_request "$req")" done "snapshot request"
snap=$(get "/api/requests/$req" | jget snapshot)
node "$ROOT/viewer/tests/browse.mjs" "$URL" "$snap" || fail "browser checks"
