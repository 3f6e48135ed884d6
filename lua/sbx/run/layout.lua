-- What a sandbox holds, whichever backend makes it: a request, the
-- resolved spec and the host's facts (lua/sbx/run/host.lua) in, a launch
-- plan (docs/plan.md) out. The backends (backends/*.lua) call plan() with
-- their name; the bubblewrap backend's engine carries the plan out as it
-- is, the container backend turns it into a systemd-nspawn command line.
-- Pure: it reads and writes nothing, so `sbx run --dry-run` and the tests
-- see exactly what will be done.
--
-- The request (lua/sbx/run/request.lua):
--   project    { path, name, id, state }   (lua/sbx/run/project.lua)
--   shell      run bash instead of Claude
--   tmux       run it in the per-project tmux session
--   args       the words after "--"
--   network    "host" | "private" | "none"
--   gh_token   pass GH_TOKEN / GITHUB_TOKEN
--   terminal   "pty" | "stdio"
--   join       the entry of a second session in a running sandbox
--   dbus_proxy host path of the filtered session-bus socket, or nil
-- Host paths it binds without `try` must exist; lua/sbx/run/state.lua makes
-- them before a launch.
local cjson = require "cjson"
local dns = require "sbx.run.dns"
local xauth = require "sbx.xauth"

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

-- The per-project state directory's parts that the sandbox writes, and
-- where it sees them ("~" is its home).
M.tmux_dir = "/run/sbx/tmux"            -- the per-project tmux server's socket
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

-- Denied on top of the engine's own minimum: kernel surfaces a coding
-- agent has no use for. unshare, setns and chroot stay: Chromium's own
-- sandbox is built from them.
M.seccomp = {
  ioctls = { "TIOCSTI", "TIOCLINUX", "TIOCSETD" },
  syscalls = {
    "keyctl", "add_key", "request_key", "open_by_handle_at", "name_to_handle_at",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "bpf", "perf_event_open", "userfaultfd", "acct", "swapon", "swapoff", "syslog",
    "quotactl", "reboot", "vhangup", "mount", "umount2", "pivot_root",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
  },
}

-- What an engine sandbox on NETWORK unshares: everything, and the network
-- too unless it is the host's. QEMU's own sandbox is made the same way.
function M.namespaces(network)
  local namespaces = { "user", "mount", "pid", "ipc", "uts", "cgroup" }
  if network ~= "host" then namespaces[#namespaces + 1] = "net" end
  return namespaces
end

-- A plan's own copy of M.seccomp (a config's plan editor may change it).
function M.seccomp_for_plan()
  return { ioctls = { table.unpack(M.seccomp.ioctls) }, syscalls = { table.unpack(M.seccomp.syscalls) } }
end

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

local function mount_list()
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

local TRY = { try = true }
local HOST_TREE = { follow = true }
local MAYBE_HOST_TREE = { try = true, follow = true }

-- An ordered environment: set() replaces, list() keeps first-set order.
local function environment()
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

local function under(path, dir)
  return path == dir or path:sub(1, #dir + 1) == dir .. "/"
end

-- The vm backend builds QEMU's own sandbox (lua/sbx/vm/qemu.lua) with these.
M.mount_list, M.under, M.MAYBE_HOST_TREE = mount_list, under, MAYBE_HOST_TREE

local function expand(path, home)
  return (path:gsub("^~", home))
end

-- Root's sandbox runs as this uid inside (mapped to 0 outside): Chromium
-- will not start its own sandbox as root, and nothing inside needs to be
-- root. Files it makes still belong to root on the host.
M.root_inside_id = 1000

local function inside_ids(host)
  if host.uid == 0 then return M.root_inside_id, host.gid == 0 and M.root_inside_id or host.gid end
  return host.uid, host.gid
end

local function runtime_dir(host) return "/run/user/" .. (inside_ids(host)) end

local function host_runtime_dir(host)
  local dir = host.env.XDG_RUNTIME_DIR
  if dir and dir:sub(1, 1) == "/" then return dir end
  return "/run/user/" .. host.uid
end

-- The host's /etc files in PATHS, read-only, for a sandbox on NETWORK;
-- but resolv.conf, which a private network may need in its own version
-- (lua/sbx/run/dns.lua). QEMU's sandbox gets its files this way too.
function M.bind_etc(m, paths, network, host)
  local resolv_conf = network == "private" and dns.private_resolv_conf(host.resolv_conf)
  for _, path in ipairs(paths) do
    if path == "/etc/resolv.conf" and resolv_conf then m.file(path, resolv_conf)
    else m.ro(path, nil, MAYBE_HOST_TREE) end
  end
end

-- The host's software, the spec's /etc and the kernel file systems.
local function system(m, request, spec, host)
  if host.nix then
    m.ro("/nix/store")
    m.ro("/nix/var/nix/daemon-socket", nil, MAYBE_HOST_TREE)
  end
  m.ro("/usr", nil, host.nix and MAYBE_HOST_TREE or HOST_TREE)
  for _, entry in ipairs(host.root_entries) do
    if entry.link then m.symlink(entry.link, entry.path) else m.ro(entry.path, nil, MAYBE_HOST_TREE) end
  end
  M.bind_etc(m, spec.etc, request.network, host)
  local uid, gid = inside_ids(host)
  m.file("/etc/passwd", ("%s:x:%d:%d::%s:/bin/bash\n"):format(host.user, uid, gid, host.home))
  m.file("/etc/group", ("%s:x:%d:\n"):format(host.user, gid))
  m.op { op = "proc", dest = "/proc" }
  m.op { op = "dev", dest = "/dev" }
  m.tmpfs("/tmp", "1777")
  m.tmpfs("/var/tmp", "1777")
  m.tmpfs("/run", "0755")
  m.dir(runtime_dir(host), "0700")
  for _, entry in ipairs(host.nix_links) do
    if entry.link and under(entry.path, "/run") then m.symlink(entry.link, entry.path) end
  end
end

-- $HOME on a tmpfs, with what persists bound into it.
local function home(m, request, host)
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

-- Display, sound, GPU, buses and the SSH agent: each forwarded when the
-- host has it. Sets the variables that point at them.
local function desktop(m, env, request, host)
  local run, host_run = runtime_dir(host), host_runtime_dir(host)
  local display = host.env.DISPLAY
  local number = xauth.display_number(display)
  if number then
    local socket = "/tmp/.X11-unix/X" .. number
    m.ro(socket, socket, TRY)
    env.set("DISPLAY", display)
    local cookie = xauth.wildcard_for(host.xauthority, display)
    if cookie then
      m.op { op = "file", dest = host.home .. "/.Xauthority", contents = cookie, mode = "0600", readonly = true }
      env.set("XAUTHORITY", host.home .. "/.Xauthority")
    end
  end
  local wayland = host.env.WAYLAND_DISPLAY
  if wayland and wayland ~= "" then
    local source = wayland:sub(1, 1) == "/" and wayland or host_run .. "/" .. wayland
    local name = source:match("([^/]+)$")
    m.ro(source, run .. "/" .. name, TRY)
    env.set("WAYLAND_DISPLAY", name)
  end
  m.dev("/dev/dri")
  m.ro("/run/opengl-driver", nil, MAYBE_HOST_TREE)
  m.ro(host_run .. "/pipewire-0", run .. "/pipewire-0", TRY)
  m.ro(host_run .. "/pulse/native", run .. "/pulse/native", TRY)
  -- Root's sandbox runs with the host's uid 0 underneath: on the system
  -- bus that is root, whom systemd and polkit obey. Never hand it over.
  if host.uid ~= 0 then m.ro("/run/dbus/system_bus_socket", nil, TRY) end
  if request.dbus_proxy then
    m.ro(request.dbus_proxy, run .. "/bus")
    env.set("DBUS_SESSION_BUS_ADDRESS", "unix:path=" .. run .. "/bus")
  end
  local agent = host.env.SSH_AUTH_SOCK
  if agent and agent:sub(1, 1) == "/" then
    m.ro(agent, run .. "/ssh-agent", TRY)
    env.set("SSH_AUTH_SOCK", run .. "/ssh-agent")
  end
end

-- The browser: its own sandbox (nothing here turns it off), the project's
-- profile (bound at ~/.config/chromium), the spec's policy, and no session
-- bus, so two sandboxes never share a browser singleton through it.
local function chromium(m, spec, host)
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
  if under(found.path, bound_tree) and under(found.real, bound_tree) then return found.path end
  m.ro(found.root, M.claude_mount)
  return M.claude_mount .. found.real:sub(#found.root + 1)
end

local function with_args(argv, args)
  table.move(args, 1, #args, #argv + 1, argv)
  return argv
end

local function entry(m, request, spec, host, options)
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
  local argv = { "tmux", "-S", M.tmux_socket, "-f", M.tmux_conf, "new-session" }
  if options.detached_tmux then argv[#argv + 1] = "-d" end
  with_args(argv, { "-s", M.tmux_session, "-n", request.project.name, "--" })
  return with_args(argv, inner)
end

local function env_for(request, spec, host, backend)
  local env = environment()
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
  env.set("XDG_RUNTIME_DIR", runtime_dir(host))
  env.set("CLAUDE_SANDBOX", "1")
  env.set("CLAUDE_SANDBOX_BACKEND", backend)
  -- Claude Code asks for it before skipping permission prompts as root.
  env.set("IS_SANDBOX", "1")
  -- Its install directory is read-only here; updates happen on the host.
  env.set("DISABLE_AUTOUPDATER", "1")
  return env
end

-- The plan BACKEND (its name) carries out for REQUEST. OPTIONS:
--   detached_tmux  a new tmux session starts detached (tmux new-session -d),
--                  for a backend that attaches to it as it joins
--   no_desktop     leave out the host's display, sound, GPU, buses and SSH
--                  agent (a VM has a screen of its own)
function M.plan(request, spec, host, backend, options)
  options = options or {}
  local m = mount_list()
  local env = env_for(request, spec, host, backend)
  system(m, request, spec, host)
  home(m, request, host)
  if not options.no_desktop then desktop(m, env, request, host) end
  chromium(m, spec, host)
  local argv = entry(m, request, spec, host, options)
  m.rw(request.project.path)

  local uid, gid = inside_ids(host)
  return {
    backend = backend,
    namespaces = M.namespaces(request.network),
    uid_map = { inside = uid, outside = host.uid },
    gid_map = { inside = gid, outside = host.gid },
    hostname = ("sbx-" .. request.project.name):sub(1, 63),
    mounts = m.list,
    env = env.list(),
    cwd = request.project.path,
    argv = argv,
    seccomp = M.seccomp_for_plan(),
    limits = { core = 0 },
    terminal = request.terminal,
    -- A tmux server outlives the client that started it: detaching leaves
    -- the sandbox running, to be joined again.
    lifetime = (request.tmux and not request.join) and "all" or "entry",
    -- ... and outlives this command, which may leave once detached.
    die_with_parent = not (request.tmux and not request.join),
    network = request.network,
  }
end

return M
