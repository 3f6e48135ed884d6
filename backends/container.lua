-- The container backend: the sandbox that lua/sbx/run/layout.lua describes,
-- made by systemd-nspawn (root only) with its own user namespace, then
-- hardened inside by the engine's init (sbx container-init). The plan is
-- the bubblewrap backend's, but that a --tmux session starts detached: the
-- launcher attaches to it as any later run does, through the engine's
-- enter, so that a detach leaves the container running.
local layout = require "sbx.run.layout"

local M = {}

-- lua/sbx/container/nspawn.lua turns the plan into nspawn's command line.
M.launcher = "sbx.container.launch"
-- Its init is the engine's: a further session enters as the bubblewrap
-- backend's does (lua/sbx/run/launch.lua's join).
M.joined_through = "engine"

function M.plan(request, spec, host)
  return layout.plan(request, spec, host, "container", { detached_tmux = true })
end

return M
