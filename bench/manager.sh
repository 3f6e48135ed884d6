#!/bin/sh
# Benchmarks `sbx manager`:
#  1. GET /api/sandboxes with 50 sandboxes in the list: requests per second
#     and p99 latency (wrk, 2 threads, 50 connections, 10 s), side by side
#     with the same JSON served from memory by Python's ThreadingHTTPServer
#     (the simplest server a user could put in front of a state file; the
#     Nix original's Rust manager cannot be built on this machine);
#  2. the daemon's resident memory with no sandbox and with 20 live ones
#     (real sbx run, real Claude Code waiting at its prompt).
# Usage: bench/manager.sh (from the repository root, after make). Prints
# Markdown for bench/RESULTS.md.
set -u
# The suites' scratch directory, exit hooks, and the scripted model server
# that lets the real Claude Code start and wait at its prompt.
. tests/lib.sh
. tests/support/model_server.sh
model_server_start > /dev/null || exit 1
work=$scratch
state="$work/state"
home="$work/home"
mkdir -p "$work/project"
claude_home "$home"

cleanup() {
    [ -n "${manager:-}" ] && kill "$manager" 2>/dev/null
    [ -n "${baseline:-}" ] && kill "$baseline" 2>/dev/null
    tmux -S "$state/tmux.sock" kill-server 2>/dev/null || true
    pkill -f -- "-fbdir $state/fb/" 2>/dev/null || true
    sleep 2 # the sandboxes' last writes into the home
}
at_exit cleanup

env HOME="$home" MANAGER_LISTEN=127.0.0.1:0 MANAGER_STATE_DIR="$state" \
    "$SBX" manager > "$work/manager.out" 2>&1 &
manager=$!
while ! grep -q "listening on" "$work/manager.out"; do sleep 0.05; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/manager.out")
token=$(cat "$state/token")

create() { # NAME NETWORK
    curl -s -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$1\",\"backend\":\"bubblewrap\",\"project_dir\":\"$work/project\",\"network\":\"$2\"}" \
        "$url/api/sandboxes"
}
rss_kib() { sed -n 's/^VmRSS:\s*\([0-9]*\) kB/\1/p' "/proc/$manager/status"; }

rss_empty=$(rss_kib)

# 2. Twenty live sandboxes.
for i in $(seq 1 20); do create "live-$i" host; done
sleep 15
live=$(curl -s -H "Authorization: Bearer $token" "$url/api/sandboxes" | python3 -c '
import json, sys; print(sum(1 for s in json.load(sys.stdin) if s["status"] == "running"))')
rss_live=$(rss_kib)
hwm=$(sed -n 's/^VmHWM:\s*\([0-9]*\) kB/\1/p' "/proc/$manager/status")
xvfbs=$(curl -s -H "Authorization: Bearer $token" "$url/api/sandboxes" | python3 -c '
import json, sys; print(" ".join(str(s["pid_xvfb"]) for s in json.load(sys.stdin) if s["status"] == "running"))')
xvfb_kib=$(ps -o rss= -p "$(echo $xvfbs | tr ' ' ,)" | awk '{ s += $1 } END { print s + 0 }')
# Everything under the panes of the manager's tmux server: sbx run, the
# sandbox's init, Claude Code and what it started.
panes=$(tmux -S "$state/tmux.sock" list-panes -a -F '#{pane_pid}' | tr '\n' ' ')
sandbox_kib=$(ps -e -o pid=,ppid=,rss= | awk -v roots="$panes" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1 }
    { parent[$1] = $2; rss[$1] = $3 }
    END { for (p in parent) { q = p; while (q in parent && !(q in root)) q = parent[q]; if (q in root) s += rss[p] }
          print s + 0 }')
for id in $(curl -s -H "Authorization: Bearer $token" "$url/api/sandboxes" | python3 -c '
import json, sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))'); do
    curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $token" "$url/api/sandboxes/$id"
done

# 1. Fifty sandboxes in the list (network none: Claude cannot reach its
# API and ends, so they are listed dead and cost nothing while measured).
for i in $(seq 1 50); do create "listed-$i" none; done
sleep 8
curl -s -H "Authorization: Bearer $token" "$url/api/sandboxes" > "$work/list.json"
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/list.json")

measure() { # URL [HEADER] -> "rps p99"
    if [ -n "${2:-}" ]; then wrk -t 2 -c 50 -d 10s --latency -H "$2" "$1"; else wrk -t 2 -c 50 -d 10s --latency "$1"; fi \
        > "$work/wrk.out" 2>&1
    rps=$(sed -n 's/^Requests\/sec:\s*\([0-9.]*\)/\1/p' "$work/wrk.out")
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")
    errors=$(grep -c "Socket errors\|Non-2xx" "$work/wrk.out" || true)
    echo "$rps $p99 $errors"
}
set -- $(measure "$url/api/sandboxes" "Authorization: Bearer $token")
sbx_rps=$1 sbx_p99=$2 sbx_errors=$3

python3 - "$work/list.json" > "$work/baseline.port" <<'PY' &
import http.server, sys
body = open(sys.argv[1], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
baseline=$!
while [ ! -s "$work/baseline.port" ]; do sleep 0.05; done
set -- $(measure "http://127.0.0.1:$(head -1 "$work/baseline.port")/")
py_rps=$1 py_p99=$2 py_errors=$3

ratio=$(python3 -c "print('%.1f' % ($sbx_rps / $py_rps))")
cat <<EOF
### sbx manager ($(date -u +%Y-%m-%d), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)

GET /api/sandboxes with $count sandboxes in the list ($(wc -c < "$work/list.json") bytes of JSON), wrk -t2 -c50 -d10s:

| server | requests/s | p99 latency | errors |
|---|---|---|---|
| sbx manager (token checked, routed; the list JSON cached between changes) | $sbx_rps | $sbx_p99 | $sbx_errors |
| Python ThreadingHTTPServer, the same bytes from memory | $py_rps | $py_p99 | $py_errors |

sbx manager / Python: **${ratio}×** the requests per second. (The Nix
original's Rust manager cannot be built here: no Rust toolchain, no network.)

Resident memory of the manager process (VmRSS): $rss_empty KiB with no
sandbox, $rss_live KiB with $live live sandboxes (peak $hwm KiB). Each
sandbox's own processes are outside the daemon: its Xvfb ($xvfb_kib KiB for
the $live together) and everything in its tmux pane, sbx run and Claude Code
included ($sandbox_kib KiB together).
EOF
