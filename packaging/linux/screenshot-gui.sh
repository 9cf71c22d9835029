#!/usr/bin/env bash
# Run inside an X display (under xvfb-run): starts PROGRAM, waits for its window, optionally types
# TARGET into it and runs the diagnosis, then saves a PNG of the window.
# Usage: screenshot-gui.sh PROGRAM OUT.png [TARGET]. WAIT (seconds, default 10) is how long a
# diagnosis is given before the picture is taken. Needs xdotool and ImageMagick's import.
set -euo pipefail
program=$1
out=$2
target=${3:-}

# Its own process group (setsid), so that the app and whatever it started can be stopped at once.
QT_QPA_PLATFORM=xcb setsid "$program" >"${out%.png}.log" 2>&1 &
app=$!
stop() {
  kill -TERM -- "-$app" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$app" 2>/dev/null || true
  wait "$app" 2>/dev/null || true
}
trap stop EXIT

window=$(timeout 60 xdotool search --sync --onlyvisible --name 'Handshake Doctor' | head -n 1)
if [ -z "$window" ]; then
  echo "error: no Handshake Doctor window appeared within 60 s" >&2
  cat "${out%.png}.log" >&2
  exit 1
fi
# No --sync for size and position: without a window manager it can wait for ever.
timeout 10 xdotool windowsize "$window" 1100 760 || true
timeout 10 xdotool windowmove "$window" 0 0 || true
sleep 1
timeout 10 xdotool windowfocus --sync "$window"
if [ -n "$target" ]; then
  timeout 30 xdotool type --delay 20 "$target"
  timeout 10 xdotool key Return
  sleep "${WAIT:-10}"
fi
kill -0 "$app" || { echo "error: the app exited" >&2; cat "${out%.png}.log" >&2; exit 1; }
timeout 30 import -window "$window" "$out"
echo "ok: screenshot of window $window in $out"
rm -f "${out%.png}.log"
