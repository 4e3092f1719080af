#!/usr/bin/env bash
# Remote calls and casts between two OS processes, in one run: this project's nodes (and raw
# loopback TCP between the same two processes), Erlang distribution (two erl nodes), and
# ractor_cluster. Each pair serves from one process and drives from the other, with the
# same payload (32 bytes), the same counts (20,000 round trips, 1,000,000 casts timed until
# a call behind the last returns) and the median of RUNS runs (default 5).
#
#   bash tests/compare/run.sh              # unpinned
#   PIN=1 bash tests/compare/run.sh        # every process pinned to CPU 0
#
# Needs erl (apt-get install erlang-base); the ractor pair builds a workspace of its own
# (tokio, rustls) on its first run.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
pin=()
[ "${PIN:-0}" = 1 ] && pin=(taskset -c 0)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts `$@` in the background, its output in $work/$name, and waits for its READY line.
serve() {
  local name=$1
  shift
  "${pin[@]}" "$@" >"$work/$name" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do
    grep -q READY "$work/$name" && return 0
    sleep 0.1
  done
  echo "$name did not start:" >&2
  cat "$work/$name" >&2
  exit 1
}

cargo build -q --release -p actors-integration --bin distbench
cargo build -q --release --manifest-path tests/compare/ractor/Cargo.toml
echo "two OS processes over loopback, median of $RUNS runs, $(nproc) CPU(s)${PIN:+, pinned to CPU 0}"

serve beamish target/release/distbench serve
read -r _ node echo_port sink_port < <(grep READY "$work/beamish")
"${pin[@]}" target/release/distbench drive "$node" "$echo_port" "$sink_port" "$RUNS"

erlc -o "$work" tests/compare/dist_compare.erl
serve erlang erl -noshell -pa "$work" -name "server@127.0.0.1" -setcookie compare \
  -eval 'dist_compare:serve()'
"${pin[@]}" erl -noshell -pa "$work" -name "driver@127.0.0.1" -setcookie compare \
  -run dist_compare drive "server@127.0.0.1" "$RUNS"

port=$(free_port)
serve ractor tests/compare/ractor/target/release/ractor-compare serve "$port"
"${pin[@]}" tests/compare/ractor/target/release/ractor-compare drive "$port" "$RUNS"
