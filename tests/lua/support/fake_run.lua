-- Made-up hosts and requests for the backends' specs, and ways to look
-- into the plans they give.
local M = {}

local HOME = "/home/me"
local STATE = HOME .. "/.local/state/sbx/projects/proj-0123456789ab"
M.HOME, M.STATE = HOME, STATE

-- A host (what lua/sbx/run/host.lua gathers): a merged-/usr Debian with
-- Claude Code outside /usr, Chromium and a guest kernel. BASE gives uid,
-- gid, user, home and env; CHANGES replace fields after.
function M.host_with(base, changes)
  local host = {
    nix = false,
    root_entries = { { path = "/bin", link = "usr/bin" }, { path = "/lib64", link = "usr/lib64" },
      { path = "/lib32" } },
    nix_links = {},
    claude = { path = "/usr/local/bin/claude", real = "/usr/local/lib/claude/claude", root = "/usr/local/lib/claude" },
    chromium = "/usr/bin/chromium",
    claude_json = '{"numStartups": 3}',
    claude_dir = base.home .. "/.claude",
    guest_kernel = { kernel = "/boot/vmlinuz-6.1.0-test", modules = "/lib/modules/6.1.0-test",
      release = "6.1.0-test" },
  }
  for k, v in pairs(base) do host[k] = v end
  for k, v in pairs(changes or {}) do host[k] = v end
  return host
end

-- An ordinary user's host, with secrets in its environment.
function M.fake_host(changes)
  return M.host_with({
    uid = 1000, gid = 1000, user = "me", home = HOME,
    env = { HOME = HOME, TERM = "screen", LANG = "de_DE.UTF-8", SECRET_THING = "hunter2",
      GH_TOKEN = "ghp_secret", GITHUB_TOKEN = "gh_secret", ANTHROPIC_API_KEY = "sk-test",
      AWS_SECRET_ACCESS_KEY = "aws", XDG_RUNTIME_DIR = "/run/user/1000" },
  }, changes)
end

function M.fake_request(changes)
  local request = {
    project = { path = HOME .. "/src/proj", name = "proj", id = "proj-0123456789ab", state = STATE },
    shell = false, tmux = false, args = {}, network = "private", gh_token = false, terminal = "pty",
  }
  for k, v in pairs(changes or {}) do request[k] = v end
  return request
end

function M.ops_at(plan, dest)
  local found = {}
  for i, op in ipairs(plan.mounts) do
    if op.dest == dest then found[#found + 1] = { index = i, op = op } end
  end
  return found
end

function M.op_at(plan, dest)
  local found = M.ops_at(plan, dest)
  assert(#found == 1, ("expected one mount at %s, found %d"):format(dest, #found))
  return found[1].op, found[1].index
end

function M.env_of(plan)
  local env = {}
  for _, entry in ipairs(plan.env) do
    local name, value = entry:match("^([^=]+)=(.*)$")
    -- Loaded with dofile: busted's assert is the spec files' own.
    if not name then error("malformed env entry " .. entry, 2) end
    if env[name] then error("duplicate " .. name, 2) end
    env[name] = value
  end
  return env
end

return M
