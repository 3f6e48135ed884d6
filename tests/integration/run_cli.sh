# sbx run's command line: bad input is refused with exit 2 before anything
# is created, --dry-run prints the plan, sbx ps.
. tests/lib.sh

home="$scratch/home"
mkdir -p "$home/proj" "$home/.ssh"
echo "not a directory" > "$home/file"
state="$home/.local/state"
run_sbx() { env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin "$SBX" "$@"; }

refused() { # DESC EXPECTED-MESSAGE ARGS...
    desc=$1 expected=$2; shift 2
    out=$(run_sbx run "$@" 2>&1 < /dev/null); code=$?
    if [ $code -eq 2 ] && printf '%s' "$out" | grep -qF -- "$expected" && [ ! -e "$state" ] \
        && [ ! -e "$home/.claude" ]; then
        pass "$desc"
    else
        fail "$desc" "exit $code, state dir $( [ -e "$state" ] && echo created || echo absent): $out"
    fi
}
refused "a missing path exits 2 and creates nothing" "does not exist" "$home/nope"
refused "a file exits 2 and creates nothing" "is not a directory" "$home/file"
refused "/ exits 2 and creates nothing" "refusing to sandbox /" /
refused "\$HOME itself exits 2 and creates nothing" "your home directory" "$home"
refused "~/.ssh as the project exits 2" "which a sandbox must not write" "$home/.ssh"
refused "an unknown flag exits 2 and creates nothing" "unknown option '--frobnicate'" --frobnicate "$home/proj"
refused "an unknown network mode exits 2 and creates nothing" "must be one of host, private, none" \
    --network wifi "$home/proj"
refused "no project exits 2" "expected a project directory"
refused "--new with --stop exits 2" "cannot be used together" --new --stop "$home/proj"

refused "an unknown backend exits 2, naming the backends" "must be one of bubblewrap, container, vm" \
    --backend docker "$home/proj"

out=$(env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin SECRET_THING=x GH_TOKEN=ghp_1 DISPLAY=:93 \
    "$SBX" run --dry-run --network none "$home/proj" -- -p hello 2>&1); code=$?
if [ $code -eq 0 ] && printf '%s' "$out" | python3 -c '
import json, sys
plan = json.load(sys.stdin)
home, proj = sys.argv[1], sys.argv[1] + "/proj"
assert plan["backend"] == "bubblewrap" and plan["network"] == "none", plan["network"]
assert "net" in plan["namespaces"]
assert plan["cwd"] == proj
assert plan["argv"][-2:] == ["-p", "hello"] and plan["argv"][1] == "--append-system-prompt"
env = dict(e.split("=", 1) for e in plan["env"])
assert "SECRET_THING" not in env and "GH_TOKEN" not in env, env
assert env["CLAUDE_SANDBOX"] == "1" and env["DISPLAY"] == ":93"
binds = {m["dest"]: m for m in plan["mounts"]}
assert binds[proj]["source"] == proj and not binds[proj].get("readonly")
assert binds[home + "/.claude/settings.json"]["readonly"]
assert binds["/tmp/.X11-unix/X93"]["try"]
' "$home" && [ ! -e "$state" ]; then
    pass "--dry-run prints the plan as JSON and creates nothing"
else fail "--dry-run prints the plan as JSON and creates nothing" "exit $code: $out"; fi

out=$(env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin GH_TOKEN=ghp_1 \
    "$SBX" run --dry-run --gh-token --shell "$home/proj" 2>&1)
if printf '%s' "$out" | grep -q '"GH_TOKEN=(hidden)"' && ! printf '%s' "$out" | grep -q ghp_1; then
    pass "--gh-token passes GH_TOKEN, and --dry-run does not print its value"
else fail "--gh-token passes GH_TOKEN, and --dry-run does not print its value" "$out"; fi

printf 'sbx.edit_plan(function(plan) plan.hostname = "edited-by-config" end)\n' > "$scratch/config.lua"
out=$(env -i HOME="$home" PATH=/usr/bin:/bin SBX_CONFIG="$scratch/config.lua" \
    "$SBX" run --dry-run --shell "$home/proj" 2>&1)
if printf '%s' "$out" | grep -q '"hostname":"edited-by-config"'; then
    pass "the config's plan editors change the plan"
else fail "the config's plan editors change the plan" "$out"; fi

out=$(run_sbx ps 2>&1); code=$?
if [ $code -eq 0 ] && [ "$out" = "no sandboxes running" ]; then pass "sbx ps with nothing running"
else fail "sbx ps with nothing running" "exit $code: $out"; fi

out=$(run_sbx run --stop "$home/proj" 2>&1); code=$?
if [ $code -eq 1 ] && echo "$out" | grep -q "no sandbox is running"; then pass "--stop with nothing running says so"
else fail "--stop with nothing running says so" "exit $code: $out"; fi

mkdir -p "$state/sbx/running"
echo '{"pid": "1; rm -rf /"}' > "$state/sbx/running/x-1.1.json"
out=$(run_sbx ps 2>&1); code=$?
if [ $code -eq 0 ] && echo "$out" | grep -q "kept aside" && [ -f "$state/sbx/running/x-1.1.json.corrupt" ]; then
    pass "a corrupt registration is kept aside and reported"
else fail "a corrupt registration is kept aside and reported" "exit $code: $out"; fi
finish
