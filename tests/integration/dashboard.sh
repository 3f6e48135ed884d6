# The dashboard in a real browser against a real manager: log in with the
# one-time link, create sandboxes through the form (the network checkbox
# off and on), see them listed, see a window one opened on its live
# screen, see typed text in the log viewer, resume the log without
# duplicates, see the token and tool figures of a real Claude Code session
# against the scripted model server and its transcript, stop and delete.
# Screenshots of each page, wide and narrow, are left in $SBX_SHOTS
# (default build/shots).
. tests/lib.sh

need=""
command -v node > /dev/null 2>&1 || need="$need node"
[ -d node_modules/playwright-core ] || need="$need node_modules/playwright-core (make deps)"
[ -x /usr/bin/chromium ] || need="$need /usr/bin/chromium"
command -v Xvfb > /dev/null 2>&1 || need="$need Xvfb"
command -v tmux > /dev/null 2>&1 || need="$need tmux"
command -v xmessage > /dev/null 2>&1 || need="$need xmessage (x11-utils)"
if [ -n "$need" ]; then
    skip "the dashboard in a browser" "this machine lacks:$need"
    finish
    exit 0
fi
if ! "$SBX" help run > /dev/null 2>&1; then
    skip "the dashboard in a browser" "this build has no 'sbx run' to put in its sandboxes"
    finish
    exit 0
fi

. tests/support/manager.sh

# The model's side of the Claude Code session whose figures the page must
# show: a tool call with text before it (Claude Code writes the two blocks
# as two lines, each repeating the usage), then a last answer. The usage
# is exact, so the totals to expect are known.
cat > "$scratch/script.lua" <<'LUA'
return {
  { text = "I will write the file.", tools = { { name = "Bash",
      input = { command = "echo metrics > metrics.txt", description = "Write a file" } } },
    usage = { input_tokens = 1200, output_tokens = 34, cache_creation_input_tokens = 500,
              cache_read_input_tokens = 7000 } },
  { text = "Done: **metrics.txt** holds `metrics`.",
    usage = { input_tokens = 1300, output_tokens = 12, cache_creation_input_tokens = 0,
              cache_read_input_tokens = 7500 } },
}
LUA
# manager.sh started a model server without a script: this one has it.
model_server_stop
model_server_start "$scratch/script.lua" || { fail "the model server starts"; finish; exit 1; }

# Claude Code in the sandboxes starts straight at its prompt: the project
# trusted and the key approved, as a user would have done.
project="$scratch/project"
claude_project="$scratch/claude-project"
mkdir -p "$project" "$claude_project"
claude_home "$SANDBOX_HOME" "$project" "$claude_project"

shots=${SBX_SHOTS:-$PWD/build/shots}
mkdir -p "$shots"
state="$scratch/state"
# The sandboxes' Claude Code talks to the model server (a sandbox with
# network "host" reaches it on this host's loopback), as a model the
# spec's price table knows.
manager_start "$state" ANTHROPIC_BASE_URL="$model_server_url" ANTHROPIC_API_KEY="$ANTHROPIC_API_KEY" \
    ANTHROPIC_MODEL=claude-sonnet-4-5-20250929 ||
    { fail "the manager starts"; finish; exit 1; }
login=$(sed -n 's/.*log in to the dashboard (once) at \(http[^ ]*\).*/\1/p' "$state.out" | tail -1)

LOGIN_URL=$login BASE_URL=$URL PROJECT_DIR=$project CLAUDE_PROJECT_DIR=$claude_project \
    TMUX_SOCKET="$state/tmux.sock" \
    MANAGER_STATE_DIR="$state" SBX="$SBX" SHOT_DIR="$shots" \
    node tests/browser/dashboard.mjs > "$scratch/browser.tap" 2>&1
status=$?
# Renumber the browser's TAP lines into this suite's count.
while IFS= read -r line; do
    case "$line" in
        "ok "*) pass "${line#ok * - }" ;;
        "not ok "*) fail "${line#not ok * - }" ;;
        *) echo "$line" ;;
    esac
done < "$scratch/browser.tap"
[ $status -eq 0 ] || [ "$tap_failed" -gt 0 ] || fail "the browser test ended with status $status"
echo "# page screenshots in $shots"
finish
