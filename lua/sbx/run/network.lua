-- --network private: pasta attached to the sandbox's own network
-- namespace, between the engine's spawn and start. Every forwarding pasta
-- does by default is turned off: nothing on the host's loopback (-T/-U),
-- no host ports into the sandbox (-t/-u), and the gateway address is not
-- the host (--no-map-gw). What is left is outbound traffic, as from the
-- host but from a process of its own.
local async = require "sbx.async"
local paths = require "sbx.paths"

local M = {}

M.ATTACH_TIMEOUT_MS = 20000

-- --runas: pasta started by root drops to nobody before it opens the
-- sandbox's user namespace, which nobody may not; as the caller (root
-- included) it can, and it never has more than the caller.
function M.pasta_argv(pasta, pid)
  local uv = require "luv"
  return { pasta, "--config-net", "--quiet", "--runas", ("%d:%d"):format(uv.getuid(), uv.getgid()),
    "--no-map-gw", "-t", "none", "-u", "none", "-T", "none", "-U", "none", tostring(pid) }
end

-- Attaches pasta to the network namespace of process PID. pasta puts
-- itself in the background once the namespace is configured and ends when
-- the namespace does. Returns true, or nil and a message. Waits.
function M.attach(pid)
  local pasta = paths.which("pasta")
  if not pasta then return nil, "pasta is not installed (apt-get install passt)" end
  local result, err = async.execute(M.pasta_argv(pasta, pid), { timeout = M.ATTACH_TIMEOUT_MS })
  if not result then return nil, err end
  if result.timed_out then return nil, "pasta did not configure the sandbox's network in time" end
  if result.code ~= 0 then
    return nil, ("pasta failed (exit %d): %s"):format(result.code,
      (result.stderr .. result.stdout):gsub("Failed to send %d+ bytes to syslog\n", ""))
  end
  return true
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
