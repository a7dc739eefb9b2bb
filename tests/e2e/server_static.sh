#!/usr/bin/env bash
# Static files from the viewer folder: index.html at /, MIME types by
# extension, no way out of the folder (.., encoded .., symlinks).
source "$(dirname "$0")/server_lib.bash"

v=$WORK/viewer
mkdir -p "$v/js" "$v/sub"
echo '<!doctype html><title>amber viewer</title>' >"$v/index.html"
echo 'console.log(1)' >"$v/js/app.js"
echo 'body{}' >"$v/style.css"
echo '{}' >"$v/data.json"
echo '<svg/>' >"$v/logo.svg"
echo 'sub index' >"$v/sub/index.html"
echo secret >"$WORK/secret.txt"
ln -s "$WORK/secret.txt" "$v/leak.txt"
start_server --viewer "$v"

ctype() { curl -s -o /dev/null -w '%{content_type}' "$URL$1"; }
get / | grep -q "amber viewer" || fail "index.html at /"
expect_eq "$(ctype /)" "text/html; charset=utf-8" "html type"
expect_eq "$(ctype /js/app.js)" "text/javascript; charset=utf-8" "js type"
expect_eq "$(ctype /style.css)" "text/css; charset=utf-8" "css type"
expect_eq "$(ctype /data.json)" "application/json" "json type"
expect_eq "$(ctype /logo.svg)" "image/svg+xml" "svg type"
get /sub/ | grep -q "sub index" || fail "a folder's index.html"
expect_eq "$(code GET /nothere.js)" 404 "missing file"
expect_eq "$(code GET /leak.txt)" 404 "a symlink out of the folder"
for p in /../secret.txt /js/../../secret.txt /%2e%2e/secret.txt /..%2fsecret.txt \
         '/%2e%2e%2fsecret.txt' /....//secret.txt; do
  out=$(curl -s --path-as-is "$URL$p")
  case $out in *secret*) fail "traversal through $p" ;; esac
done
expect_eq "$(code POST /index.html)" 405 "only GET for files"
stop_server

# Without a viewer folder, / still says where the API is.
rm -rf "$v"
start_server --viewer "$v"
get / | grep -q '/api' || fail "the page without a viewer"
stop_server
echo "ok"
