# The scripted model server and the real Claude Code client, for the
# integration suites. Source after tests/lib.sh; call the functions
# directly, not inside $(...), so the server stays this shell's child.
#
#   model_server_start [SCRIPT [SERVER-OPTION...]]
#       Starts tests/support/model_server.lua in the background (files in a
#       new directory under $scratch), waits until it listens, and exports
#       ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY and the variables that keep
#       Claude Code off the network. HTTPS_PROXY and HTTP_PROXY name the
#       server too (NO_PROXY exempts loopback): what Claude Code tries to
#       reach beyond the API is logged (kind "proxy") and refused, never
#       sent out. Sets model_server_url, model_server_log (one JSON line per
#       request) and model_server_pid. It is stopped at exit if the suite
#       does not stop it first.
#   model_server_stop
#       SIGTERM, then waits; returns the server's exit status.
#   find_claude
#       Sets claude_bin to the claude sbx itself would run; returns 1 when
#       there is none (the suite should skip, giving $claude_missing).
#   run_claude DIR ARG...
#       Runs $claude_bin ARG... in DIR, bounded (300 s) so that a hang fails
#       the suite instead of stalling it. Its temporary files go to
#       $claude_tmpdir (in the scratch directory), not /tmp.
#   claude_home DIR [PROJECT-DIR...]
#       Makes DIR a HOME where claude starts at its prompt: onboarding
#       done, the test API key approved, each PROJECT-DIR trusted.
#   claude_project_dir CWD
#       Prints the directory name Claude Code keeps CWD's sessions under.
model_server_support=$PWD/tests/support
claude_tmpdir=$scratch/claude-tmp
mkdir -p "$claude_tmpdir"
model_server_pid=""

model_server_start() {
    model_server_script=${1:-}
    [ $# -gt 0 ] && shift
    model_server_dir=$(mktemp -d "$scratch/model-server.XXXXXX")
    model_server_log=$model_server_dir/requests.jsonl
    set -- --url-file "$model_server_dir/url" --log "$model_server_log" ${model_server_script:+--script "$model_server_script"} "$@"
    "$SBX" lua "$model_server_support/model_server.lua" -- "$@" \
        > "$model_server_dir/stdout" 2> "$model_server_dir/stderr" &
    model_server_pid=$!
    # A liveness guard, not a timing: the server writes the file once it
    # listens, and a server that died is noticed at once.
    model_server_tries=0
    while [ ! -s "$model_server_dir/url" ]; do
        if ! kill -0 "$model_server_pid" 2> /dev/null || [ $model_server_tries -ge 600 ]; then
            echo "# the model server did not start:" >&2
            sed 's/^/#   /' "$model_server_dir/stderr" >&2
            model_server_stop > /dev/null 2>&1
            return 1
        fi
        sleep 0.1
        model_server_tries=$((model_server_tries + 1))
    done
    model_server_url=$(cat "$model_server_dir/url")
    export ANTHROPIC_BASE_URL="$model_server_url"
    export ANTHROPIC_API_KEY=sk-ant-test-model-server-0123456789
    export DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1
    # Even with those, interactive claude with a new HOME fetches the
    # official plugin marketplace (downloads.claude.ai, github.com).
    export CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1
    export HTTPS_PROXY="$model_server_url" HTTP_PROXY="$model_server_url" NO_PROXY=127.0.0.1,localhost
    unset ANTHROPIC_AUTH_TOKEN
}

model_server_stop() {
    [ -n "$model_server_pid" ] || return 0
    kill -TERM "$model_server_pid" 2> /dev/null
    wait "$model_server_pid"
    model_server_status=$?
    model_server_pid=""
    return $model_server_status
}
at_exit model_server_stop

find_claude() {
    printf 'local path, why = require("sbx.claude").find()\nio.write(path or ("# " .. why))\n' \
        > "$scratch/find_claude.lua"
    claude_bin=$("$SBX" lua "$scratch/find_claude.lua")
    case "$claude_bin" in "#"*|"") claude_missing=${claude_bin#"# "}; return 1 ;; esac
}

run_claude() {
    (cd "$1" && shift && TMPDIR=$claude_tmpdir timeout 300 "$claude_bin" "$@" < /dev/null)
}

claude_home() {
    mkdir -p "$1/.claude"
    claude_home_file=$1/.claude.json
    shift
    python3 - "$claude_home_file" "$ANTHROPIC_API_KEY" "$@" <<'PY'
import json, sys
path, key, projects = sys.argv[1], sys.argv[2], sys.argv[3:]
json.dump({
    "hasCompletedOnboarding": True,
    "theme": "dark",
    # Claude Code asks about a key from the environment once, and
    # remembers the answer by the key's last 20 characters.
    "customApiKeyResponses": {"approved": [key[-20:]], "rejected": []},
    "projects": {p: {"hasTrustDialogAccepted": True} for p in projects},
}, open(path, "w"))
PY
}

# Observed with Claude Code 2.1.332, in directories named with every kind of
# punctuation, spaces, non-ASCII letters and emoji: the cwd (symlinks
# resolved) with every UTF-16 code unit that is not an ASCII letter or digit
# replaced by "-" (so "é" gives one "-" and an emoji two); when that is
# longer than 200 characters, its first 200, "-", and the base-36 absolute
# value of the Java-style 32-bit hash (h = 31 * h + unit) of the cwd.
claude_project_dir() {
    python3 - "$1" <<'PY'
import os, re, sys
cwd = os.path.realpath(sys.argv[1])
units = cwd.encode("utf-16-le")
codes = [int.from_bytes(units[i:i + 2], "little") for i in range(0, len(units), 2)]
name = "".join(chr(c) if chr(c).isascii() and chr(c).isalnum() else "-" for c in codes)
if len(name) > 200:
    h = 0
    for c in codes:
        h = (h * 31 + c) & 0xFFFFFFFF
    h = abs(h - (1 << 32) if h >= 1 << 31 else h)
    digits = ""
    while True:
        h, r = divmod(h, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
        if h == 0:
            break
    name = name[:200] + "-" + digits
print(name)
PY
}
