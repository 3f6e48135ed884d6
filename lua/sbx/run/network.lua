-- --network private: pasta attached to the sandbox's own network
-- namespace, between the engine's spawn and start. Every forwarding pasta
-- does by default is turned off: nothing on the host's loopback (-T/-U),
-- no host ports into the sandbox (-t/-u), and the gateway address is not
-- the host (--no-map-gw). What is left is outbound traffic, as from the
-- host but from a process of its own, and DNS: one address forwarded to
-- the host's first resolver, UDP port 53 only (lua/sbx/run/dns.lua).
local async = require "sbx.async"
local dns = require "sbx.run.dns"
local paths = require "sbx.paths"

local M = {}

M.ATTACH_TIMEOUT_MS = 20000

-- --runas: pasta started by root drops to nobody before it opens the
-- sandbox's user namespace, which nobody may not; as the caller (root
-- included) it can, and it never has more than the caller. --pid: where it
-- writes the pid of the daemon it becomes.
function M.pasta_argv(pasta, pid, pid_file)
  local uv = require "luv"
  return { pasta, "--config-net", "--quiet", "--runas", ("%d:%d"):format(uv.getuid(), uv.getgid()),
    "--no-map-gw", "-t", "none", "-u", "none", "-T", "none", "-U", "none",
    "--dns-forward", dns.forward_address,
    "--pid", pid_file, tostring(pid) }
end

-- pasta ends when a namespace it was given by path is deleted, not when
-- the process it was given by pid ends: left alone it would outlive the
-- sandbox. A watcher process ends it when the sandbox's init has ended,
-- whatever becomes of the sbx that started both.
local function end_with_sandbox(pid, pid_file)
  local pidfd = require "sbx.pidfd"
  local pasta_pid = math.tointeger(tonumber((require("sbx.fs").read(pid_file) or ""):match("%d+")))
  if not pasta_pid then return nil, "pasta wrote no pid to " .. pid_file end
  local pasta_start = pidfd.start_time(pasta_pid)
  if not pasta_start then return nil, "pasta ended as it started" end
  local sandbox_start = pidfd.start_time(pid)
  local ok, err = false, "the sandbox has ended"
  if sandbox_start then ok, err = pidfd.end_with(pid, sandbox_start, pasta_pid, pasta_start) end
  if not ok then
    pidfd.signal(pasta_pid, pasta_start, "term")
    return nil, "cannot tie pasta to the sandbox: " .. err
  end
  return true
end

-- Attaches pasta to the network namespace of process PID, and ties its
-- life to that process. pasta puts itself in the background once the
-- namespace is configured. Returns true, or nil and a message. Waits.
function M.attach(pid)
  local pasta = paths.which("pasta")
  if not pasta then return nil, "pasta is not installed (apt-get install passt)" end
  local pid_file = os.tmpname()
  local result, err = async.execute(M.pasta_argv(pasta, pid, pid_file), { timeout = M.ATTACH_TIMEOUT_MS })
  local ok
  if not result then
    ok = nil
  elseif result.timed_out then
    err = "pasta did not configure the sandbox's network in time"
  elseif result.code ~= 0 then
    err = ("pasta failed (exit %d): %s"):format(result.code,
      (result.stderr .. result.stdout):gsub("Failed to send %d+ bytes to syslog\n", ""))
  else
    ok, err = end_with_sandbox(pid, pid_file)
  end
  os.remove(pid_file)
  return ok, err
end

-- The interfaces of process PID's network namespace, but loopback.
local function interfaces_of(pid)
  local names = {}
  for line in (require("sbx.fs").read("/proc/" .. pid .. "/net/dev") or ""):gmatch("[^\n]+") do
    local name = line:match("^%s*([^%s:]+):")
    if name and name ~= "lo" then names[#names + 1] = name end
  end
  return names
end

-- Whether --network private works on this host, by doing it: a fresh
-- network namespace from the engine (never started), pasta attached, and
-- an interface configured in it. Returns the interface names, or nil and
-- why. Waits.
function M.probe()
  local uv = require "luv"
  local sandbox = require "sbx.sandbox"
  local uid, gid = uv.getuid(), uv.getgid()
  local box, err = sandbox.spawn {
    namespaces = { "user", "mount", "pid", "ipc", "uts", "cgroup", "net" },
    uid_map = { inside = uid, outside = uid }, gid_map = { inside = gid, outside = gid },
    hostname = "sbx-probe", mounts = {}, env = {}, cwd = "/", argv = { "/bin/true" }, terminal = "stdio",
    seccomp = { syscalls = {}, ioctls = {} },
  }
  if not box then return nil, "cannot make a network namespace: " .. err end
  local ok, attach_err = M.attach(box.pid)
  local names = ok and interfaces_of(box.pid)
  box:signal("kill")
  while not box:reap() do async.sleep(5) end
  box:close()
  if not ok then return nil, attach_err end
  if #names == 0 then return nil, "pasta ran but the namespace has no interface but loopback" end
  return names
end

return M
