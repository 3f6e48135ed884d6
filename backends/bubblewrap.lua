-- The bubblewrap backend: the sandbox that lua/sbx/run/layout.lua describes,
-- made by the engine's own namespaces (no bwrap binary, no setuid helper),
-- so an ordinary user can make it.
local layout = require "sbx.run.layout"

local M = {}

-- The engine (require "sbx.sandbox") carries this backend's plans out; a
-- further session enters through the engine's namespaces.
M.launcher = "sbx.run.launch"
M.joined_through = "engine"

function M.plan(request, spec, host)
  return layout.plan(request, spec, host, "bubblewrap")
end

return M
