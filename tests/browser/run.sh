#!/usr/bin/env bash
# Browser tests of the dashboard: a real `pier serve` driven by Debian's Chromium through
# playwright-core. Screenshots of every page (1280×800 and 390×844) go to tests/browser/artifacts/.
#
#   bash tests/browser/run.sh                 # uses target/debug/pier
#   PIER_BIN=/path/to/pier bash tests/browser/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
PIER_BIN="${PIER_BIN:-target/debug/pier}"
case "$PIER_BIN" in /*) ;; *) PIER_BIN="$repo/$PIER_BIN" ;; esac
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$PIER_BIN" ]; then
  echo "run.sh: no pier binary at $PIER_BIN (build it with: cargo build -p pier-cli)" >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1; then
  echo "== installing node (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -q nodejs npm >/dev/null 2>&1; } || { apt-get update -q && apt-get install -y -q nodejs npm; }
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "== installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q chromium; }
fi

cd "$here"
echo "== npm ci (tests/browser)"
npm ci --no-audit --no-fund --loglevel=error

rm -rf artifacts
mkdir -p artifacts
data="$(mktemp -d)"
key="pier_browser_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# Start pier on a free port (another process could take the port in between: try again).
for attempt in 1 2 3; do
  port="$(free_port)"
  NO_COLOR=1 RUST_LOG="${RUST_LOG:-info}" "$PIER_BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" \
    --api-key "$key" >"artifacts/pier.log" 2>&1 &
  pid=$!
  up=""
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    if node -e "fetch('http://127.0.0.1:$port/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then up=1; break; fi
    sleep 0.1
  done
  [ -n "$up" ] && break
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
  echo "run.sh: pier did not start on port $port (attempt $attempt); log:" >&2
  tail -n 20 artifacts/pier.log >&2 || true
done
if [ -z "$pid" ]; then
  echo "run.sh: could not start pier" >&2
  exit 1
fi
echo "== pier serve on 127.0.0.1:$port (pid $pid)"

echo "== browser tests (node --test)"
status=0
PIER_URL="http://127.0.0.1:$port" PIER_API_KEY="$key" ARTIFACTS="$here/artifacts" \
  node --test --test-concurrency=1 --test-reporter=spec tests/*.test.mjs || status=$?
echo "== screenshots in tests/browser/artifacts/"
exit $status
