# The rockspec builds and installs with the project's Makefile.
. tests/lib.sh
if ! command -v luarocks > /dev/null 2>&1; then
    skip "luarocks make installs sbx" "luarocks is not installed (make deps installs it)"
    finish; exit
fi
check "the rockspec passes luarocks lint" luarocks lint sbx-scm-1.rockspec
if luarocks --lua-version 5.4 make --tree "$scratch/rocks" sbx-scm-1.rockspec > "$scratch/log" 2>&1; then
    pass "luarocks make builds and installs with the Makefile"
    bin=$(find "$scratch/rocks" -type f -name sbx -perm -u+x | head -n 1)
    check "the rock's sbx runs" sh -c "'$bin' version | grep -q '^sbx '"
else
    fail "luarocks make builds and installs with the Makefile" "$(tail -n 20 "$scratch/log")"
fi
finish
