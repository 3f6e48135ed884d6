-- What a sandbox holds, whatever the backend that makes it: the meaning of
-- the spec (lua/sbx/spec.lua) as mounts, an environment and an entry, in
-- the plan's terms (docs/plan.md). backends/bubblewrap.lua gives these to
-- the engine; backends/vm.lua to a VM. Pure: host facts come in
-- (lua/sbx/run/host.lua), nothing is read or written here.
local cjson = require "cjson"

local M = {}

-- Files under ~/.claude that the unsandboxed host Claude obeys or runs:
-- the sandbox may read them, never change them. Beyond settings, hooks,
-- commands, agents and CLAUDE.md, the host Claude also loads skills,
-- plugins (which carry hooks of their own) and output styles.
M.claude_readonly = {
  "settings.json", "settings.local.json", "hooks", "commands", "agents", "CLAUDE.md",
  "skills", "plugins", "output-styles",
}

-- Host files and directories a sandbox may read but not change.
M.home_readonly = { ".gitconfig", ".config/git", ".ssh", ".config/gh" }

M.tmux_dir = "/run/sbx/tmux"

-- The per-project state directory's parts that the sandbox writes, and
-- where it sees them ("~" is its home).
M.state_binds = {
  { "local/bin", "~/.local/bin" },
  { "local/lib", "~/.local/lib" },
  { "local/share", "~/.local/share" },
  { "chromium", "~/.config/chromium" },
  { "tmux", M.tmux_dir },
}

M.sandbox_bin = "/run/sbx/bin"          -- first on PATH: the chromium wrapper
M.claude_mount = "/run/sbx/claude"      -- Claude Code, when not under /usr
M.tmux_socket = M.tmux_dir .. "/socket"
M.tmux_conf = "/run/sbx/tmux.conf"
M.tmux_session = "sandbox"
M.chromium_policy = "/etc/chromium/policies/managed/sbx.json"

-- An orange status bar says "this terminal is a sandbox" at a glance.
M.tmux_config = [[
set -g status-style "bg=colour208,fg=black"
set -g status-left "[sbx] #S:#W "
set -g status-left-length 60
set -g status-right "sandboxed"
set -g default-terminal "tmux-256color"
set -g history-limit 50000
]]

-- HOW: { try = skip a missing source, follow = resolve symbolic links in
-- the source (only for host trees no sandbox can write: /usr, /etc, the
-- user's dotfiles; never the project, the state directory or ~/.claude) }.
local function bind(op, source, dest, how, readonly)
  how = how or {}
  return { op = op, source = source, dest = dest or source, readonly = readonly or nil,
    try = how.try or nil, follow_symlinks = how.follow or nil }
end

-- A mount list with a method per operation: m.ro(source, dest, how),
-- m.rw, m.dev, m.tmpfs, m.dir, m.symlink, m.file, m.op; m.list is the plan's.
function M.mount_list()
  local list = {}
  local m = { list = list }
  local function add(op) list[#list + 1] = op end
  function m.ro(source, dest, how) add(bind("bind", source, dest, how, true)) end
  function m.rw(source, dest, how) add(bind("bind", source, dest, how, false)) end
  function m.dev(source, dest) add(bind("dev-bind", source, dest, { try = true }, false)) end
  function m.tmpfs(dest, mode) add { op = "tmpfs", dest = dest, mode = mode } end
  function m.dir(dest, mode) add { op = "dir", dest = dest, mode = mode } end
  function m.symlink(target, dest) add { op = "symlink", target = target, dest = dest } end
  function m.file(dest, contents, mode)
    add { op = "file", dest = dest, contents = contents, mode = mode or "0644", readonly = true }
  end
  function m.op(op) add(op) end
  return m
end

local HOST_TREE = { follow = true }
local MAYBE_HOST_TREE = { try = true, follow = true }
M.TRY = { try = true }
M.MAYBE_HOST_TREE = MAYBE_HOST_TREE

-- An ordered environment: set() replaces, list() keeps first-set order.
function M.environment()
  local names, values = {}, {}
  local e = {}
  function e.set(name, value)
    if value == nil then return end
    if values[name] == nil then names[#names + 1] = name end
    values[name] = value
  end
  function e.get(name) return values[name] end
  function e.list()
    local out = {}
    for i, name in ipairs(names) do out[i] = name .. "=" .. values[name] end
    return out
  end
  return e
end

-- Whether PATH is DIR or below it.
function M.under(path, dir)
  return path == dir or path:sub(1, #dir + 1) == dir .. "/"
end

local function expand(path, home)
  return (path:gsub("^~", home))
end

-- Root's sandbox runs as this uid inside (mapped to 0 outside): Chromium
-- will not start its own sandbox as root, and nothing inside needs to be
-- root. Files it makes still belong to root on the host.
M.root_inside_id = 1000

function M.inside_ids(host)
  if host.uid == 0 then return M.root_inside_id, host.gid == 0 and M.root_inside_id or host.gid end
  return host.uid, host.gid
end

function M.runtime_dir(host) return "/run/user/" .. (M.inside_ids(host)) end

-- The host's software, the spec's /etc and the kernel file systems.
function M.system(m, spec, host)
  if host.nix then
    m.ro("/nix/store")
    m.ro("/nix/var/nix/daemon-socket", nil, MAYBE_HOST_TREE)
  end
  m.ro("/usr", nil, host.nix and MAYBE_HOST_TREE or HOST_TREE)
  for _, entry in ipairs(host.root_entries) do
    if entry.link then m.symlink(entry.link, entry.path) else m.ro(entry.path, nil, MAYBE_HOST_TREE) end
  end
  for _, path in ipairs(spec.etc) do m.ro(path, nil, MAYBE_HOST_TREE) end
  local uid, gid = M.inside_ids(host)
  m.file("/etc/passwd", ("%s:x:%d:%d::%s:/bin/bash\n"):format(host.user, uid, gid, host.home))
  m.file("/etc/group", ("%s:x:%d:\n"):format(host.user, gid))
  m.op { op = "proc", dest = "/proc" }
  m.op { op = "dev", dest = "/dev" }
  m.tmpfs("/tmp", "1777")
  m.tmpfs("/var/tmp", "1777")
  m.tmpfs("/run", "0755")
  m.dir(M.runtime_dir(host), "0700")
  for _, entry in ipairs(host.nix_links) do
    if entry.link and M.under(entry.path, "/run") then m.symlink(entry.link, entry.path) end
  end
end

-- $HOME on a tmpfs, with what persists bound into it.
function M.home(m, request, host)
  local h = host.home
  m.tmpfs("/home", "0755")
  if h ~= "/home" then m.tmpfs(h, "0700") end
  -- host.claude_dir is ~/.claude with the user's own links resolved;
  -- below it nothing is followed, as a sandbox writes there.
  m.rw(host.claude_dir, h .. "/.claude")
  for _, name in ipairs(M.claude_readonly) do
    m.ro(host.claude_dir .. "/" .. name, h .. "/.claude/" .. name)
  end
  if host.claude_json then
    m.op { op = "file", dest = h .. "/.claude.json", contents = host.claude_json, mode = "0600" }
  end
  for _, path in ipairs(M.home_readonly) do m.ro(h .. "/" .. path, nil, MAYBE_HOST_TREE) end
  for _, part in ipairs(M.state_binds) do
    m.rw(request.project.state .. "/" .. part[1], expand(part[2], h))
  end
  m.file(M.tmux_conf, M.tmux_config)
end

-- The browser: its own sandbox (nothing here turns it off), the project's
-- profile (bound at ~/.config/chromium), the spec's policy, and no session
-- bus, so two sandboxes never share a browser singleton through it.
function M.chromium(m, spec, host)
  local policy = {}
  for key, value in pairs(spec.chromium.policy) do policy[key] = value end
  -- cjson would write an empty list as an object: leave it out instead.
  if #spec.chromium.extensions > 0 then
    policy.ExtensionInstallForcelist = { table.unpack(spec.chromium.extensions) }
  end
  m.file(M.chromium_policy, cjson.encode(policy) .. "\n")
  if host.chromium then
    m.file(M.sandbox_bin .. "/chromium", ("#!/bin/sh\nunset DBUS_SESSION_BUS_ADDRESS\nexec %s \"$@\"\n")
      :format(host.chromium), "0755")
  end
end

-- Where Claude Code is inside, mounting it when /usr does not hold it.
local function claude_inside(m, host)
  local found = host.claude
  if not found then return "claude" end
  local bound_tree = host.nix and "/nix/store" or "/usr"
  if M.under(found.path, bound_tree) and M.under(found.real, bound_tree) then return found.path end
  m.ro(found.root, M.claude_mount)
  return M.claude_mount .. found.real:sub(#found.root + 1)
end

local function with_args(argv, args)
  table.move(args, 1, #args, #argv + 1, argv)
  return argv
end

-- The entry's argv (mounting Claude Code when it is not under /usr).
function M.entry(m, request, spec, host)
  local claude = claude_inside(m, host)
  local inner
  if request.shell then
    inner = with_args({ "bash" }, request.args)
  else
    inner = with_args({ claude, "--append-system-prompt", spec.notice }, request.args)
  end
  if not request.tmux then return inner end
  if request.join then
    return { "tmux", "-S", M.tmux_socket, "attach-session", "-t", M.tmux_session }
  end
  local argv = { "tmux", "-S", M.tmux_socket, "-f", M.tmux_conf, "new-session",
    "-s", M.tmux_session, "-n", request.project.name, "--" }
  return with_args(argv, inner)
end

-- The environment, built from nothing: the spec's allow-list and what
-- BACKEND's sandboxes need.
function M.env_for(request, spec, host, backend)
  local env = M.environment()
  local h = host.home
  env.set("HOME", h)
  env.set("USER", host.user)
  env.set("LOGNAME", host.user)
  env.set("SHELL", "/bin/bash")
  local path = { M.sandbox_bin, h .. "/.local/bin", "/usr/local/bin", "/usr/bin", "/bin" }
  if host.nix then
    table.insert(path, 3, "/run/current-system/sw/bin")
    env.set("NIX_REMOTE", "daemon")
  end
  env.set("PATH", table.concat(path, ":"))
  env.set("TERM", "xterm-256color")
  env.set("LANG", "C.UTF-8")
  for _, name in ipairs(spec.env.allow) do
    local value = host.env[name]
    if value and name ~= "DISPLAY" and name ~= "WAYLAND_DISPLAY" then env.set(name, value) end
  end
  if request.gh_token then
    for _, name in ipairs(spec.env.tokens) do env.set(name, host.env[name]) end
  end
  env.set("XDG_RUNTIME_DIR", M.runtime_dir(host))
  env.set("CLAUDE_SANDBOX", "1")
  env.set("CLAUDE_SANDBOX_BACKEND", backend)
  -- Claude Code asks for it before skipping permission prompts as root.
  env.set("IS_SANDBOX", "1")
  -- Its install directory is read-only here; updates happen on the host.
  env.set("DISABLE_AUTOUPDATER", "1")
  return env
end

return M
