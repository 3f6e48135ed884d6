-- The bubblewrap backend: the sandbox that lua/sbx/run/layout.lua describes,
-- made by the engine's own namespaces (no bwrap binary, no setuid helper),
-- so an ordinary user can make it.
local layout = require "sbx.run.layout"

local M = {}

-- The engine (require "sbx.sandbox") carries this backend's plans out.
M.launcher = "sbx.run.launch"

function M.plan(request, spec, host)
  return layout.plan(request, spec, host, "bubblewrap")
end

return M
