#!/usr/bin/env bash
# Runs bench/realtime.mjs with a file-descriptor limit that fits 10,000 sockets on each side
# (the server's and the clients'); root may raise the hard limit, others get what it allows.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "realtime bench: file descriptors $(ulimit -n)" >&2
exec node bench/realtime.mjs "$@"
