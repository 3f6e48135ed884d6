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

return M
