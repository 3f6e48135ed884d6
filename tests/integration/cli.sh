# The binary's command line, config errors, source loading and install.
. tests/lib.sh

out=$("$SBX" nosuchcmd 2>&1); code=$?
if [ $code -eq 2 ] && echo "$out" | grep -q "unknown command 'nosuchcmd'" && echo "$out" | grep -q '^usage: sbx <command>'; then
    pass "an unknown command exits 2 with the usage"
else fail "an unknown command exits 2 with the usage" "code $code: $out"; fi

out=$("$SBX" doctor --frobnicate 2>&1); code=$?
if [ $code -eq 2 ] && echo "$out" | grep -q "usage: sbx doctor"; then
    pass "an unknown flag exits 2 with the command's usage"
else fail "an unknown flag exits 2 with the command's usage" "code $code: $out"; fi

check "sbx --help lists the commands" sh -c "'$SBX' --help | grep -q '^  doctor'"
check "sbx version names the version" sh -c "'$SBX' version | grep -q '^sbx '"

printf 'spec.defaults.network = "private"\n\nspec.defaults.network = 42\n' > "$scratch/config.lua"
out=$(SBX_CONFIG="$scratch/config.lua" "$SBX" spec 2>&1); code=$?
if [ $code -ne 0 ] && echo "$out" | grep -q "$scratch/config.lua:3: defaults.network must be a string"; then
    pass "a broken config is reported with its file and line, non-zero"
else fail "a broken config is reported with its file and line, non-zero" "code $code: $out"; fi

printf 'spec.defaults.network = \n' > "$scratch/syntax.lua"
out=$(SBX_CONFIG="$scratch/syntax.lua" "$SBX" spec 2>&1); code=$?
if [ $code -ne 0 ] && echo "$out" | grep -q "$scratch/syntax.lua:[12]:"; then
    pass "a config syntax error is reported with its file and line"
else fail "a config syntax error is reported with its file and line" "code $code: $out"; fi

check "sbx spec --json is JSON" sh -c "'$SBX' spec --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"defaults\"][\"backend\"]==\"bubblewrap\"'"

# SBX_LUA_DIR: an edit takes effect with no rebuild; without it, the
# embedded copy is used.
tree="$scratch/tree"
mkdir -p "$tree"
cp -r lua backends spec web "$tree"/ 2>/dev/null || cp -r lua spec "$tree"/
sed -i 's/io.stdout:write(("sbx %s/io.stdout:write(("EDITED-IN-TREE sbx %s/' "$tree/lua/sbx/cmd/version.lua"
check "SBX_LUA_DIR loads an edited Lua file without a rebuild" \
    sh -c "SBX_LUA_DIR='$tree' '$SBX' version | grep -q EDITED-IN-TREE"
check "--lua-dir does the same" sh -c "'$SBX' --lua-dir '$tree' version | grep -q EDITED-IN-TREE"
check "without it the embedded sources are used" sh -c "! '$SBX' version | grep -q EDITED-IN-TREE"

# Tracebacks name repository paths.
cat > "$scratch/raise.lua" <<'LUA'
require("sbx.args").parse(nil, { "--x" })
LUA
out=$("$SBX" lua "$scratch/raise.lua" 2>&1)
if echo "$out" | grep -q "lua/sbx/args.lua:[0-9]"; then
    pass "tracebacks point at repository paths"
else fail "tracebacks point at repository paths" "$out"; fi

cat > "$scratch/paths.lua" <<'LUA'
for _, field in ipairs { "path", "cpath" } do
  for entry in package[field]:gmatch("[^;]+") do
    assert(entry:sub(1, 1) == "/", field .. " has a relative entry: " .. entry)
  end
end
LUA
check "package.path and cpath hold no relative entries" "$SBX" lua "$scratch/paths.lua"

# A Lua module planted in the current directory is never loaded.
mkdir -p "$scratch/cwd/sbx"
echo 'error("planted module loaded")' > "$scratch/cwd/sbx/args.lua"
echo 'error("planted module loaded")' > "$scratch/cwd/cjson.lua"
check "modules in the current directory are not loaded" sh -c "cd '$scratch/cwd' && '$SBX' spec --json >/dev/null"

out=$("$SBX" doctor --json 2>&1)
if echo "$out" | python3 -c '
import json, sys
report = {r["id"]: r for r in json.load(sys.stdin)}
for id in ["userns", "pasta", "xvfb", "tmux", "chromium", "claude", "nspawn", "qemu", "guest-kernel", "kvm", "dbus-proxy"]:
    assert id in report, id
    assert report[id]["status"] in ("ok", "warn", "fail"), id
    assert report[id]["summary"], id
'; then pass "doctor --json reports every check with a status and a summary"
else fail "doctor --json reports every check with a status and a summary" "$out"; fi

# make install: the binary, its links (each dispatching on argv[0]) and
# nothing that needs the source tree.
if make -s install PREFIX="$scratch/prefix" > "$scratch/install.log" 2>&1; then
    pass "make install succeeds"
    for link in claude-sandbox claude-sandbox-container claude-sandbox-vm claude-sandbox-manager claude-remote; do
        if [ -L "$scratch/prefix/bin/$link" ] || [ -x "$scratch/prefix/bin/$link" ]; then
            pass "make install creates $link"
        else
            fail "make install creates $link"
        fi
    done
    check "the installed binary runs from anywhere" sh -c "cd / && '$scratch/prefix/bin/sbx' spec --json > /dev/null"
else
    fail "make install succeeds" "$(cat "$scratch/install.log")"
fi
finish
