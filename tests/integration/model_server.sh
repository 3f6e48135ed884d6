# The scripted model server (tests/support/model_server.lua) on its own,
# then the real Claude Code client against it: a text turn, tool turns, the
# session files it writes, its background requests, and bad input that
# must get an HTTP error without stopping the server.
. tests/lib.sh
. tests/support/model_server.sh

# log_check DESC PYTHON: passes when PYTHON's asserts hold, with `entries`
# the server's log lines and `turns` those that used up the script.
log_check() {
    check "$1" python3 -c "
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1])]
turns = [e for e in entries if e.get('kind') == 'turn']
$2" "$model_server_log"
}

# raw BYTES [open]: sends BYTES (Python escapes) on one connection and
# prints what comes back; the sending side is shut down unless "open".
cat > "$scratch/raw.py" <<'PY'
import socket, sys
port = int(sys.argv[1].rsplit(":", 1)[1])
data = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
connection = socket.create_connection(("127.0.0.1", port), timeout=60)
connection.sendall(data)
if len(sys.argv) < 4:
    connection.shutdown(socket.SHUT_WR)
reply = b""
while True:
    chunk = connection.recv(65536)
    if not chunk:
        break
    reply += chunk
sys.stdout.write(reply.decode("utf-8", "replace"))
PY
raw() { python3 "$scratch/raw.py" "$model_server_url" "$@"; }

# expect_status DESC STATUS BYTES [open]
expect_status() {
    desc=$1 status=$2; shift 2
    reply=$(raw "$@" 2>&1)
    case "$reply" in
        "HTTP/1.1 $status "*'"type":"error"'*) pass "$desc" ;;
        *) fail "$desc" "$reply" ;;
    esac
}

# ---- the server alone

printf 'return { { text = 1 } }\n' > "$scratch/bad_script.lua"
out=$("$SBX" lua tests/support/model_server.lua -- --url-file "$scratch/never" --script "$scratch/bad_script.lua" 2>&1)
code=$?
if [ $code -eq 2 ] && echo "$out" | grep -q "bad_script.lua: turn 1.text must be a string"; then
    pass "a bad script is refused with its file and turn, exit 2"
else fail "a bad script is refused with its file and turn, exit 2" "code $code: $out"; fi

cat > "$scratch/server_script.json" <<'JSON'
[{"text": "first turn"},
 {"text": "Running it.", "tools": [{"name": "Bash", "input": {"command": "echo hi > out.txt", "description": "Write a file"}}]},
 {"text": "for the hostile request"},
 {"text": "fourth turn", "usage": {"input_tokens": 11, "output_tokens": 7}}]
JSON
model_server_start "$scratch/server_script.json" --incomplete-timeout 300 || { fail "the server starts"; finish; exit; }
pass "the server starts and writes its URL"
case "$model_server_url" in
    http://127.0.0.1:[0-9]*) pass "it listens on 127.0.0.1, on a port of its own" ;;
    *) fail "it listens on 127.0.0.1, on a port of its own" "$model_server_url" ;;
esac

messages_request='{"model":"claude-test","max_tokens":100,"tools":[{"name":"Bash","input_schema":{"type":"object"}}],"system":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hello"}]'
curl -sS -D "$scratch/headers1" -o "$scratch/reply1.json" "$model_server_url/v1/messages" \
    -H 'content-type: application/json' -d "$messages_request}"
check "a non-streaming request gets the first turn, with usage and ids" python3 -c "
import json, re, sys
reply = json.load(open(sys.argv[1]))
headers = open(sys.argv[2]).read()
assert headers.startswith('HTTP/1.1 200'), headers
assert re.search(r'(?im)^request-id: req_01\w{22}$', headers), headers
assert re.match(r'msg_01\w{22}$', reply['id']), reply
assert reply['type'] == 'message' and reply['role'] == 'assistant' and reply['model'] == 'claude-test'
assert reply['content'] == [{'type': 'text', 'text': 'first turn'}], reply
assert reply['stop_reason'] == 'end_turn'
usage = reply['usage']
for field in ('input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'):
    assert isinstance(usage[field], int), (field, usage)
assert usage['input_tokens'] > 0 and usage['output_tokens'] > 0 and usage['cache_creation_input_tokens'] > 0
" "$scratch/reply1.json" "$scratch/headers1"

curl -sS -N -D "$scratch/headers2" -o "$scratch/stream2.txt" "$model_server_url/v1/messages?beta=true" \
    -H 'content-type: application/json' -d "$messages_request,\"stream\":true}"
check "a streaming request gets the next turn as the API's events, tool input in pieces" python3 -c "
import json, re, sys
headers = open(sys.argv[2]).read()
assert re.search(r'(?im)^content-type: text/event-stream', headers), headers
events = [(m.group(1), json.loads(m.group(2))) for m in re.finditer(r'event: (\w+)\ndata: (.*)\n\n', open(sys.argv[1]).read())]
names = [name for name, _ in events if name != 'ping']
assert names == ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop',
                 'content_block_start'] + ['content_block_delta'] * (len(names) - 8) + [
                 'content_block_stop', 'message_delta', 'message_stop'], names
start = events[0][1]['message']
assert start['content'] == [] and start['usage']['cache_read_input_tokens'] > 0, start
blocks = {}
for name, data in events:
    if name == 'content_block_start':
        blocks[data['index']] = dict(data['content_block'], text='', json='')
    elif name == 'content_block_delta':
        delta = data['delta']
        block = blocks[data['index']]
        if delta['type'] == 'text_delta': block['text'] += delta['text']
        else: block['json'] += delta['partial_json']
assert blocks[0]['type'] == 'text' and blocks[0]['text'] == 'Running it.', blocks
assert blocks[1]['type'] == 'tool_use' and blocks[1]['name'] == 'Bash' and re.match(r'toolu_01\w{22}$', blocks[1]['id'])
assert json.loads(blocks[1]['json']) == {'command': 'echo hi > out.txt', 'description': 'Write a file'}
delta = [data for name, data in events if name == 'message_delta'][0]
assert delta['delta']['stop_reason'] == 'tool_use' and delta['usage']['output_tokens'] > 1, delta
" "$scratch/stream2.txt" "$scratch/headers2"

# The shape Claude Code 2.1.332 gives its session-title request.
title_request='{"model":"claude-test","max_tokens":100,"tools":[],"messages":[{"role":"user","content":"<session>x</session>"}],"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"title":{"type":"string"}},"required":["title"]}}}}'
check "a title request gets a JSON title" sh -c "curl -sS '$model_server_url/v1/messages' -d '$title_request' |
    python3 -c 'import json,sys; assert json.loads(json.load(sys.stdin)[\"content\"][0][\"text\"])[\"title\"]'"
check "a request offering no tools gets a default answer" sh -c \
    "curl -sS '$model_server_url/v1/messages' -d '{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"quota\"}]}' | grep -q '\"end_turn\"'"
check "count_tokens answers a count" sh -c "curl -sS '$model_server_url/v1/messages/count_tokens' -d '{\"model\":\"m\",\"messages\":[]}' | grep -q '^{\"input_tokens\":[0-9]*}$'"
check "HEAD /api/hello answers 200" sh -c "curl -sS -I '$model_server_url/api/hello' | grep -q '^HTTP/1.1 200'"

expect_status "a line of garbage gets 400" 400 'hello there\r\n' open
expect_status "a body cut short gets 400" 400 'POST /v1/messages HTTP/1.1\r\nContent-Length: 50\r\n\r\n{"model":'
expect_status "a request left incomplete gets 408" 408 'POST /v1/messages HTTP/1.1\r\nContent-Length: 50\r\n\r\n{' open
expect_status "a body that is not JSON gets 400" 400 'POST /v1/messages HTTP/1.1\r\nContent-Length: 5\r\n\r\n{bad}'
expect_status "JSON that is not a Messages request gets 400" 400 'POST /v1/messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]'
expect_status "JSON nested too deep gets 400" 400 "POST /v1/messages HTTP/1.1\r\nContent-Length: 4000\r\n\r\n$(printf '%2000s' | tr ' ' '[')$(printf '%2000s' | tr ' ' ']')"
expect_status "an unknown path gets 404" 404 'GET /v1/nothing HTTP/1.1\r\n\r\n'
expect_status "a GET of /v1/messages gets 405" 405 'GET /v1/messages HTTP/1.1\r\n\r\n'
expect_status "Content-Length with Transfer-Encoding gets 400" 400 'POST /v1/messages HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
expect_status "a malformed chunk gets 400" 400 'POST /v1/messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
expect_status "a chunk size with junk after it gets 400" 400 'POST /v1/messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2junk\r\n{}\r\n0\r\n\r\n'
expect_status "an unknown transfer coding gets 501" 501 'POST /v1/messages HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n'
expect_status "a malformed Content-Length gets 400" 400 'POST /v1/messages HTTP/1.1\r\nContent-Length: -1\r\n\r\n'
expect_status "a huge Content-Length gets 413" 413 'POST /v1/messages HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n'
expect_status "a huge head gets 431" 431 "GET / HTTP/1.1\r\nX: $(printf '%70000s' | tr ' ' x)\r\n\r\n" open
expect_status "a malformed header gets 400" 400 'GET / HTTP/1.1\r\nno colon\r\n\r\n'
expect_status "HTTP/2 gets 505" 505 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
expect_status "a CONNECT (the server as a proxy) gets 403" 403 'CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n'

reply=$(raw 'POST /v1/messages/count_tokens HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"mes\r\na;ext=1\r\nsages":[]}\r\n0\r\n\r\nGET /api/hello HTTP/1.1\r\n\r\n')
if [ "$(echo "$reply" | grep -o 'HTTP/1.1 200' | wc -l)" -eq 2 ] && echo "$reply" | grep -q '{"input_tokens":'; then
    pass "a chunked body and a pipelined second request on one connection are both answered"
else fail "a chunked body and a pipelined second request on one connection are both answered" "$reply"; fi

reply=$(raw "$(printf 'GET /api/hello HTTP/1.1\\r\\n\\r\\n%.0s' $(seq 500))")
count=$(echo "$reply" | grep -o 'HTTP/1.1 200' | wc -l)
if [ "$count" -eq 500 ]; then pass "500 pipelined requests in one write are all answered"
else fail "500 pipelined requests in one write are all answered" "$count answers"; fi

python3 -c "
import json
big = {'model': 'claude-test', 'max_tokens': 1, 'messages': [{'role': 'user', 'content': 'x' * 8000000}]}
open('$scratch/big.json', 'w').write(json.dumps(big))"
check "an 8 MB request is answered (after 100 Continue, which curl asks for)" sh -c "curl -sS '$model_server_url/v1/messages' --data-binary @'$scratch/big.json' | grep -q '\"end_turn\"'"

hostile='{"model":"m","max_tokens":1e999,"tools":[{"name":7,"x":1e999}],"system":{"a":[1e999]},"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":1e999,"content":{"x":1}},{"type":"text","text":7}]},"junk",{"role":"user"}]}'
check "a request full of values JSON cannot hold back (1e999, wrong types) gets an answer" sh -c \
    "curl -sS '$model_server_url/v1/messages' -d '$hostile' | grep -q '\"stop_reason\"'"

curl -sS -o "$scratch/reply3.json" "$model_server_url/v1/messages" -d "$messages_request}"
check "after all that it still serves, with the script where it was" python3 -c "
import json, sys
reply = json.load(open(sys.argv[1]))
assert reply['content'][0]['text'] == 'fourth turn', reply
assert reply['usage']['input_tokens'] == 11 and reply['usage']['output_tokens'] == 7, reply
" "$scratch/reply3.json"
check "the server is still running" kill -0 "$model_server_pid"

log_check "every request is logged with its status, and bad ones with why" "
statuses = [e['status'] for e in entries]
assert statuses[:8] == [200, 200, 200, 200, 200, 200, 400, 400], statuses
assert statuses.count(200) == 6 + 2 + 500 + 3, statuses.count(200)
assert sorted(set(statuses)) == [200, 400, 403, 404, 405, 408, 413, 431, 501, 505], statuses
assert all(e.get('error') for e in entries if e['status'] >= 400)
assert [(e['turn'], e['stream']) for e in turns] == [(1, False), (2, True), (3, False), (4, False)], turns
assert [e['kind'] for e in entries[2:6]] == ['title', 'no_tools', 'count_tokens', 'hello'], entries
assert turns[0]['user_text'] == 'hello' and turns[0]['tools'] == ['Bash']
assert len({e['request_id'] for e in entries}) == len(entries)"

url=$model_server_url
model_server_stop
code=$?
if [ $code -eq 0 ]; then pass "SIGTERM ends it with status 0"; else fail "SIGTERM ends it with status 0" "status $code"; fi
if curl -sS "$url/api/hello" > /dev/null 2>&1; then fail "it no longer listens"; else pass "it no longer listens"; fi

# ---- the real Claude Code client

if ! find_claude; then
    skip "Claude Code runs against the server" "no claude: $claude_missing (make deps installs it)"
    finish; exit
fi
export HOME="$scratch/home" IS_SANDBOX=1
mkdir -p "$HOME" "$scratch/project"
project=$(cd "$scratch/project" && pwd -P)

printf 'return { { text = "Hello from the scripted model." } }\n' > "$scratch/hi.lua"
model_server_start "$scratch/hi.lua"
out=$(run_claude "$project" -p "say hi" 2>&1); code=$?
if [ $code -eq 0 ] && [ "$out" = "Hello from the scripted model." ]; then
    pass "claude -p completes a turn and prints the scripted text"
else fail "claude -p completes a turn and prints the scripted text" "code $code: $out"; fi
log_check "the server saw the prompt, streamed, with Claude Code's tools" "
assert len(turns) == 1 and turns[0]['user_text'] == 'say hi' and turns[0]['stream'], turns
assert 'Bash' in turns[0]['tools'] and turns[0]['user_agent'].startswith('claude-cli/')
assert [e['kind'] for e in entries] == ['turn'], 'with the no-traffic variables it asks for nothing else: %s' % entries"
session=$(python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]['session_id'])" "$model_server_log")
jsonl="$HOME/.claude/projects/$(claude_project_dir "$project")/$session.jsonl"
check "the session is written to ~/.claude/projects/<encoded cwd>/<session id>.jsonl, with the usage the server sent" python3 -c "
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
sent = [json.loads(l) for l in open(sys.argv[2])][-1]['reply']['usage']
assistant = [l for l in lines if l.get('type') == 'assistant']
assert assistant, lines
for line in assistant:
    usage = line['message']['usage']
    for field in ('input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'):
        assert usage[field] == sent[field], (field, usage, sent)
" "$jsonl" "$model_server_log"
model_server_stop

cat > "$scratch/tools.lua" <<LUA
return {
  { text = "Writing it.", tools = { { name = "Bash", input = { command = "echo hi > out.txt", description = "Write out.txt" } } } },
  { tools = { { name = "Write", input = { file_path = "$project/written.txt", content = "from Write\n" } } } },
  { tools = { { name = "Read", input = { file_path = "$project/out.txt" } } } },
  { text = "All done." },
}
LUA
model_server_start "$scratch/tools.lua"
out=$(run_claude "$project" -p "make the files" --dangerously-skip-permissions 2>&1); code=$?
if [ $code -eq 0 ] && [ "$out" = "All done." ]; then pass "a tool-use script runs to its final text"
else fail "a tool-use script runs to its final text" "code $code: $out"; fi
check "the Bash tool call ran: out.txt holds hi" sh -c "[ \"\$(cat '$project/out.txt')\" = hi ]"
check "the Write tool call ran" sh -c "[ \"\$(cat '$project/written.txt')\" = 'from Write' ]"
log_check "each tool result came back with its tool_use id, the Read one with the file" "
assert [e['turn'] for e in turns] == [1, 2, 3, 4], turns
for asked, answered in zip(turns, turns[1:]):
    ids = [b['id'] for b in asked['reply']['content'] if b['type'] == 'tool_use']
    results = answered['tool_results']
    assert [r['tool_use_id'] for r in results] == ids and not any(r['is_error'] for r in results), results
assert 'hi' in turns[3]['tool_results'][0]['content'], turns[3]"
model_server_stop

# Where sessions go, checked against Claude Code itself in directories
# named with every ASCII punctuation character, non-ASCII letters, an
# emoji, a path longer than 200 characters, and through a symlink.
model_server_start
punctuation=$(printf '%s' 'a !"#$%&()*+,-.:;<=>?@[\]^_`{|}~'"'"'z')
long=$(printf 'long.name_%.0s' $(seq 1 25))
mkdir -p "$scratch/where/$punctuation" "$scratch/where/café 😀" "$scratch/where/$long" "$scratch/where/real"
ln -s real "$scratch/where/link"
for dir in "$punctuation" "café 😀" "$long" link; do
    expected=$(claude_project_dir "$scratch/where/$dir")
    run_claude "$scratch/where/$dir" -p hi > /dev/null 2>&1
    session=$(python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]['session_id'])" "$model_server_log")
    check "sessions of $(printf '%.30s' "$dir") go to $(printf '%.40s' "$expected")" test -f "$HOME/.claude/projects/$expected/$session.jsonl"
done
model_server_stop
out=$(claude_project_dir "/tmp/my.proj_x y")
if [ "$out" = "-tmp-my-proj-x-y" ]; then pass "the rule gives DESIGN.md's example"
else fail "the rule gives DESIGN.md's example" "$out"; fi

# Interactive and without CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, Claude
# Code also asks for a session title on the first prompt (that request must
# not use up the script) and tries to reach api.anthropic.com and
# raw.githubusercontent.com: through the proxy, which refuses, so nothing
# leaves this machine.
if ! command -v tmux > /dev/null 2>&1; then
    skip "interactive claude in tmux follows the script" "tmux is not installed (make deps installs it)"
    finish; exit
fi
cat > "$scratch/interactive.lua" <<'LUA'
return {
  { tools = { { name = "Bash", input = { command = "echo interactive > tmux.txt", description = "Write a file" } } } },
  { text = "Interactive done." },
}
LUA
model_server_start "$scratch/interactive.lua"
claude_home "$HOME" "$project"
cat > "$scratch/run_claude.sh" <<SH
#!/bin/sh
export HOME='$HOME' ANTHROPIC_BASE_URL='$ANTHROPIC_BASE_URL' ANTHROPIC_API_KEY='$ANTHROPIC_API_KEY'
export HTTPS_PROXY='$HTTPS_PROXY' HTTP_PROXY='$HTTP_PROXY' NO_PROXY='$NO_PROXY'
export DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1
export TMPDIR='$claude_tmpdir'
unset CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC
cd '$project' && exec '$claude_bin'
SH
tmux="tmux -S $scratch/tmux.sock -f /dev/null"
at_exit "$tmux kill-server 2> /dev/null"
$tmux new-session -d -x 150 -y 40 "sh '$scratch/run_claude.sh'"
# screen_shows TEXT: waits (a liveness bound, not a timing) for TEXT.
screen_shows() {
    tries=0
    until $tmux capture-pane -p 2> /dev/null | grep -qF "$1"; do
        [ $tries -ge 900 ] && return 1
        sleep 0.1; tries=$((tries + 1))
    done
}
if screen_shows "❯"; then
    $tmux send-keys -l "make tmux.txt"
    $tmux send-keys Enter
fi
if screen_shows "Interactive done."; then pass "interactive claude in tmux runs the script to its end"
else fail "interactive claude in tmux runs the script to its end" "$($tmux capture-pane -p 2>&1)"; fi
check "its Bash tool call ran" sh -c "[ \"\$(cat '$project/tmux.txt')\" = interactive ]"
log_check "the title request got its own answer and the script went 1, 2" "
titles = [e for e in entries if e['kind'] == 'title']
assert len(titles) == 1, [e['kind'] for e in entries]
assert json.loads(titles[0]['reply']['content'][0]['text']) == {'title': 'Scripted session'}, titles
assert [e['turn'] for e in turns] == [1, 2] and turns[1]['tool_results'], turns"
log_check "what it tried to reach beyond the API was refused, and nothing else was asked" "
assert {e['kind'] for e in entries} <= {'turn', 'title', 'hello', 'proxy'}, entries
assert all(e['status'] == 403 for e in entries if e['kind'] == 'proxy'), entries"
python3 -c "
import json, sys
hosts = sorted({json.loads(l)['path'] for l in open(sys.argv[1]) if json.loads(l).get('kind') == 'proxy'})
print('# interactive claude tried to reach (refused):', ' '.join(hosts) or 'nothing')" "$model_server_log"
# Claude Code writes its files as it exits: wait for it before the
# scratch directory goes.
claude_pid=$($tmux display-message -p '#{pane_pid}')
$tmux kill-server
tries=0
while kill -0 "$claude_pid" 2> /dev/null && [ $tries -lt 300 ]; do sleep 0.1; tries=$((tries + 1)); done
check "Claude Code took the title: the session records it" \
    grep -rqF '"aiTitle":"Scripted session"' "$HOME/.claude/projects/$(claude_project_dir "$project")"
model_server_stop

finish
