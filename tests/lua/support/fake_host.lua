-- A made-up host (what lua/sbx/run/host.lua gathers) for the backends'
-- specs: a merged-/usr Debian with Claude Code outside /usr and Chromium.
-- Loaded with dofile (tests/lua is not a module root).
-- fake_host(base, changes): BASE gives uid, gid, user, home and env; CHANGES
-- replace fields after.
return function(base, changes)
  local host = {
    nix = false,
    root_entries = { { path = "/bin", link = "usr/bin" }, { path = "/lib64", link = "usr/lib64" },
      { path = "/lib32" } },
    nix_links = {},
    claude = { path = "/usr/local/bin/claude", real = "/usr/local/lib/claude/claude", root = "/usr/local/lib/claude" },
    chromium = "/usr/bin/chromium",
    claude_json = '{"numStartups": 3}',
    claude_dir = base.home .. "/.claude",
  }
  for k, v in pairs(base) do host[k] = v end
  for k, v in pairs(changes or {}) do host[k] = v end
  return host
end
