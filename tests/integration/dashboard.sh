# The dashboard in a real browser against a real manager: log in with the
# one-time link, create a sandbox through the form, see it listed, see a
# window it opened on its live screen, see typed text in the log viewer,
# resume the log without duplicates, stop and delete it. Screenshots of each
# page, wide and narrow, are left in $SBX_SHOTS (default build/shots).
. tests/lib.sh

need=""
command -v node > /dev/null 2>&1 || need="$need node"
[ -d node_modules/playwright-core ] || need="$need node_modules/playwright-core (make deps)"
[ -x /usr/bin/chromium ] || need="$need /usr/bin/chromium"
command -v Xvfb > /dev/null 2>&1 || need="$need Xvfb"
command -v tmux > /dev/null 2>&1 || need="$need tmux"
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

# Claude Code in the sandboxes starts straight at its prompt: the project
# is trusted and the test's API key approved, as a user would have done.
project="$scratch/project"
mkdir -p "$project"
cat > "$SANDBOX_HOME/.claude.json" <<EOF
{"hasCompletedOnboarding": true, "theme": "dark",
 "customApiKeyResponses": {"approved": ["sk-test-not-a-key"], "rejected": []},
 "projects": {"$project": {"hasTrustDialogAccepted": true}}}
EOF

shots=${SBX_SHOTS:-$PWD/build/shots}
mkdir -p "$shots"
state="$scratch/state"
manager_start "$state" || { fail "the manager starts"; finish; exit 1; }
login=$(sed -n 's/.*log in to the dashboard (once) at \(http[^ ]*\).*/\1/p' "$state.out" | tail -1)

LOGIN_URL=$login BASE_URL=$URL PROJECT_DIR=$project TMUX_SOCKET="$state/tmux.sock" \
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
