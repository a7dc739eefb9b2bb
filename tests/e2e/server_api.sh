#!/usr/bin/env bash
# The HTTP JSON API against a real server fed by a fake machine: machines,
# snapshot requests with roots/exits, progress, snapshots, nodes by id and
# by path, children and retainers paging, search, and the error replies.
source "$(dirname "$0")/server_lib.bash"

start_server
machine app.lua --nodes 2000 --batch 8192 --log "hello from print"
id=$(machine_id app.lua)

# Machines and their state.
expect_eq "$(machine_count)" 1 "machines listed"
m=$(get "/api/machines/$id")
expect_eq "$(jget vm <<<"$m")" lua "machine vm"
expect_eq "$(jget pid <<<"$m")" 4242 "machine pid"
expect_eq "$(jget features.0 <<<"$m")" snapshot "first feature"
expect_eq "$(jget state <<<"$m")" running "machine state"
for i in $(seq 100); do [ "$(get "/api/machines/$id/log" | jget total)" = 1 ] && break; sleep 0.05; done
expect_eq "$(get "/api/machines/$id/log" | jget lines.0.text)" "hello from print" "log line"

# A snapshot request with roots, exits and a label reaches the machine as
# such, and its progress ends with a stored snapshot.
req=$(snapshot_via_api "$id" '{"roots":["globals","app.state"],"exits":["io.stdout"],"label":"first"}')
expect_eq "$(wait_request "$req")" done "request state"
grep -q 'command snapshot id=[0-9]* root=globals root=app.state exit=io.stdout' "$WORK/app.lua.out" ||
  fail "the machine did not get the roots and exits: $(cat "$WORK/app.lua.out")"
r=$(get "/api/requests/$req")
snap=$(jget snapshot <<<"$r")
expect_eq "$(jget nodes <<<"$r")" 2000 "nodes so far at the end"
expect_eq "$(jget edges <<<"$r")" 5997 "edges"
expect_eq "$(get /api/requests | jget '#')" 1 "requests listed"

# Snapshots.
expect_eq "$(get /api/snapshots | jget snapshots.0.id)" "$snap" "newest snapshot"
s=$(get "/api/snapshots/$snap")
expect_eq "$(jget label <<<"$s")" first "label"
expect_eq "$(jget machine_name <<<"$s")" app.lua "machine name"
expect_eq "$(jget nodes <<<"$s")" 2000 "stored node count"
expect_eq "$(jget roots.1 <<<"$s")" path:app.state "requested roots kept"
expect_eq "$(jget exits.0 <<<"$s")" io.stdout "requested exits kept"

# Nodes by id and by path.
expect_eq "$(get "/api/snapshots/$snap/nodes/1" | jget kind)" table "node 1 kind"
expect_eq "$(get "/api/snapshots/$snap/nodes/1" | jget edges)" 2003 "node 1 edge count"
expect_eq "$(get "/api/snapshots/$snap/node?path=globals.greeting" | jget id)" 2 "path to a node"
expect_eq "$(get "/api/snapshots/$snap/node?path=globals.answer" | jget value.value)" 42 "path to a scalar"
expect_eq "$(get "/api/snapshots/$snap/node?path=globals%5B3%5D.n" | jget value.text)" 5 "index step"

# Children and retainers, paged.
c=$(get "/api/snapshots/$snap/nodes/1/children?offset=6&limit=5")
expect_eq "$(jget edges# <<<"$c")" 5 "page size"
expect_eq "$(jget edges.0.kind <<<"$c")" index "first index edge"
expect_eq "$(jget edges.0.target.type <<<"$c")" Item "target summary"
expect_eq "$(jget total <<<"$c")" 2003 "total"
r=$(get "/api/snapshots/$snap/nodes/10/retainers")
expect_eq "$(jget edges# <<<"$r")" 2 "retainers of node 10 (its table entry and next)"

# Search: by type (keyset paging) and by string prefix.
p1=$(get "/api/snapshots/$snap/search?type=Item&limit=10")
expect_eq "$(jget nodes# <<<"$p1")" 10 "search page"
after=$(jget next_after <<<"$p1")
p2=$(get "/api/snapshots/$snap/search?type=Item&limit=10&after=$after")
expect_eq "$(jget nodes.0.id <<<"$p2")" $((after + 1)) "next page starts after the last"
expect_eq "$(get "/api/snapshots/$snap/search?name=hi&kind=string" | jget nodes.0.id)" 2 "string prefix search"
expect_eq "$(get "/api/snapshots/$snap/search?field=gree" | jget edges.0.name)" greeting "field search"
expect_eq "$(get "/api/snapshots/$snap/frames" | jget frames#)" 0 "no frames in a request snapshot"

# Heap analysis through the API (its shapes are the analysis room's).
expect_eq "$(get "/api/snapshots/$snap/summary" | jget types.0.kind)" table "summary"
expect_eq "$(get "/api/snapshots/$snap/top?limit=1" | jget nodes.0.id)" 1 "top retainer"
expect_eq "$(get "/api/snapshots/$snap/nodes/5/paths?max=1" | jget paths.0.path)" "globals[3]" "path to a node"
expect_eq "$(get "/api/diff?a=$snap&b=$snap" | jget added)" 0 "a snapshot diffed with itself"
expect_eq "$(code GET "/api/diff?a=$snap")" 400 "diff without b"

# Errors are JSON with the right status.
expect_eq "$(code GET /api/machines/99)" 404 "unknown machine"
expect_eq "$(code GET /api/snapshots/99)" 404 "unknown snapshot"
expect_eq "$(code GET "/api/snapshots/$snap/nodes/999999")" 404 "unknown node"
expect_eq "$(code GET "/api/snapshots/$snap/node?path=globals.nothere")" 404 "unknown path"
expect_eq "$(code GET "/api/snapshots/$snap/node")" 400 "missing path"
expect_eq "$(code GET "/api/snapshots/$snap/nodes/1/children?limit=x")" 400 "bad limit"
expect_eq "$(code POST "/api/machines/$id/snapshot" '{"roots":"globals","exits":[1]}')" 400 "bad exits"
expect_eq "$(code POST "/api/machines/$id/snapshot" '[1]')" 400 "body not an object"
expect_eq "$(code DELETE /api/snapshots)" 405 "wrong method"
expect_eq "$(code POST "/api/machines/$id/toggle" '{"id":"@1"}')" 409 "toggle while running"
get /api/machines/99 | jget hint >/dev/null || fail "errors carry a hint"
big=$WORK/big.json
head -c 1100000 /dev/zero | tr '\0' ' ' >"$big"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary @"$big" "$URL/api/machines/$id/snapshot")" 413 "oversized body"
expect_eq "$(code GET /api)" 200 "still serving after the oversized body"

# A machine without the snapshot feature (an XS machine) is refused.
machine xs-like --features ""
xs=$(machine_id xs-like)
expect_eq "$(code POST "/api/machines/$xs/snapshot" '{}')" 409 "snapshot of a machine without the feature"

stop_server
echo "ok"
