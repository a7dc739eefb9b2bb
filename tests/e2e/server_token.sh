#!/usr/bin/env bash
# Listening beyond loopback needs a token, and with a token every HTTP
# request must carry it (Authorization: Bearer, or ?token=).
source "$(dirname "$0")/server_lib.bash"

p=$(free_port)
r=0
"$AMBER" serve --db "$WORK/x.db" --http "0.0.0.0:$p" --machines "$(free_port)" \
  >"$WORK/refused.log" 2>&1 || r=$?
expect_eq "$r" 2 "non-loopback HTTP without a token"
grep -q -- "--token" "$WORK/refused.log" || fail "the refusal says what to do"
r=0
AMBER_TOKEN= "$AMBER" serve --db "$WORK/x.db" --machines "0.0.0.0:$p" --http "$(free_port)" \
  >"$WORK/refused2.log" 2>&1 || r=$?
expect_eq "$r" 2 "non-loopback machine port without a token"

TOKEN=s3cret-token
start_server --token "$TOKEN"
saved=$TOKEN
TOKEN=
expect_eq "$(code GET /api)" 401 "no token"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$URL/api")" 401 "wrong token"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $saved" "$URL/api")" 200 "bearer token"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/snapshots?token=$saved")" 200 "token in the query"
expect_eq "$(code GET /)" 401 "static files need the token too"
get /api | jget error | grep -q token || fail "the 401 says why"
r=0
"$AMBER" machines >/dev/null 2>&1 || r=$?
expect_eq "$r" 2 "the CLI without the token"
"$AMBER" machines --token "$saved" | grep -q "no machines" || fail "the CLI with --token"
AMBER_TOKEN=$saved "$AMBER" machines | grep -q "no machines" || fail "the CLI with AMBER_TOKEN"
TOKEN=$saved
stop_server

# A real non-loopback bind with a token starts and answers.
TOKEN=s3cret-token
MPORT=$(free_port)
HPORT=$(free_port)
"$AMBER" serve --db "$WORK/y.db" --machines "127.0.0.1:$MPORT" --http "0.0.0.0:$HPORT" \
  --token "$TOKEN" >>"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
URL=http://127.0.0.1:$HPORT
for i in $(seq 100); do [ "$(code GET /api)" = 200 ] && break; sleep 0.05; done
expect_eq "$(code GET /api)" 200 "0.0.0.0 with a token"
stop_server
echo "ok"
