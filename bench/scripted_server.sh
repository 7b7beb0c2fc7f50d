# Sourced, not run: starts the scripted-server of baton-test-support for a benchmark and stops
# it. `scripted_server_start BIN REPLY DIR` starts it answering REPLY, its stdin a fifo in DIR
# (closing that stops it), and sets SERVER_PID and SERVER_URL (its base URL) or returns
# non-zero after printing its stderr. `scripted_server_stop` closes the fifo, gives the server
# a second to end, then kills it. Used by bench/dispatch.sh and bench/profile_dispatch.sh.

SERVER_PID=""
SERVER_URL=""

scripted_server_start() {
  local bin="$1" reply="$2" dir="$3"
  mkfifo "$dir/server.in"
  "$bin" --reply "$reply" <"$dir/server.in" >"$dir/server.url" 2>"$dir/server.err" &
  SERVER_PID=$!
  exec 3>"$dir/server.in"
  for _ in $(seq 100); do
    SERVER_URL="$(head -n1 "$dir/server.url" 2>/dev/null || true)"
    [ -n "$SERVER_URL" ] && return 0
    sleep 0.05
  done
  echo "scripted-server: error: it printed no URL; its stderr:" >&2
  cat "$dir/server.err" >&2
  return 1
}

scripted_server_stop() {
  exec 3>&- 2>/dev/null || true
  if [ -n "$SERVER_PID" ]; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
