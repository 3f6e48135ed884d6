-- The bubblewrap backend: a request, the resolved spec and the host's facts
-- (lua/sbx/run/host.lua) in, a launch plan (docs/plan.md) out. Pure: it
-- reads and writes nothing, so `sbx run --dry-run` and the tests see
-- exactly what the engine will do.
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
local contents = require "sbx.run.contents"
local xauth = require "sbx.xauth"

local M = {}

-- The engine's own namespaces carry this backend's plans out.
M.launcher = "sbx.run.launch"

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

local function host_runtime_dir(host)
  local dir = host.env.XDG_RUNTIME_DIR
  if dir and dir:sub(1, 1) == "/" then return dir end
  return "/run/user/" .. host.uid
end

-- Display, sound, GPU, buses and the SSH agent: each forwarded when the
-- host has it. Sets the variables that point at them.
local function desktop(m, env, request, host)
  local run, host_run = contents.runtime_dir(host), host_runtime_dir(host)
  local display = host.env.DISPLAY
  local number = xauth.display_number(display)
  if number then
    local socket = "/tmp/.X11-unix/X" .. number
    m.ro(socket, socket, contents.TRY)
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
    m.ro(source, run .. "/" .. name, contents.TRY)
    env.set("WAYLAND_DISPLAY", name)
  end
  m.dev("/dev/dri")
  m.ro("/run/opengl-driver", nil, contents.MAYBE_HOST_TREE)
  m.ro(host_run .. "/pipewire-0", run .. "/pipewire-0", contents.TRY)
  m.ro(host_run .. "/pulse/native", run .. "/pulse/native", contents.TRY)
  -- Root's sandbox runs with the host's uid 0 underneath: on the system
  -- bus that is root, whom systemd and polkit obey. Never hand it over.
  if host.uid ~= 0 then m.ro("/run/dbus/system_bus_socket", nil, contents.TRY) end
  if request.dbus_proxy then
    m.ro(request.dbus_proxy, run .. "/bus")
    env.set("DBUS_SESSION_BUS_ADDRESS", "unix:path=" .. run .. "/bus")
  end
  local agent = host.env.SSH_AUTH_SOCK
  if agent and agent:sub(1, 1) == "/" then
    m.ro(agent, run .. "/ssh-agent", contents.TRY)
    env.set("SSH_AUTH_SOCK", run .. "/ssh-agent")
  end
end

function M.plan(request, spec, host)
  local m = contents.mount_list()
  local env = contents.env_for(request, spec, host, "bubblewrap")
  contents.system(m, spec, host)
  contents.home(m, request, host)
  desktop(m, env, request, host)
  contents.chromium(m, spec, host)
  local argv = contents.entry(m, request, spec, host)
  m.rw(request.project.path)

  local uid, gid = contents.inside_ids(host)
  local namespaces = { "user", "mount", "pid", "ipc", "uts", "cgroup" }
  if request.network ~= "host" then namespaces[#namespaces + 1] = "net" end
  return {
    backend = "bubblewrap",
    namespaces = namespaces,
    uid_map = { inside = uid, outside = host.uid },
    gid_map = { inside = gid, outside = host.gid },
    hostname = ("sbx-" .. request.project.name):sub(1, 63),
    mounts = m.list,
    env = env.list(),
    cwd = request.project.path,
    argv = argv,
    seccomp = { ioctls = { table.unpack(M.seccomp.ioctls) }, syscalls = { table.unpack(M.seccomp.syscalls) } },
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
