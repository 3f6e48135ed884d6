-- The `app` object route handlers receive (docs/web.md): the manager's
-- sandboxes, its actions, and periodic work on the loop.
local Fleet = require "sbx.manager.fleet"
local async = require "sbx.async"
local log = require "sbx.log"
local uv = require "luv"

local M = {}

-- FLEET: the sandboxes; CONFIG: the manager's config; AUTH: for the login
-- routes (internal).
function M.new(fleet, config, auth)
  local app = {
    config = { state_dir = config.state_dir, listen = config.listen, socket = config.socket,
      auth = config.auth, max_body = config.max_body, base_url = nil, assets_dirs = config.assets_dirs },
    log = log,
    auth = auth,
  }
  local periodic = {}

  function app.sandboxes() return fleet:list() end
  function app.sandbox(id) return fleet:get(id) end
  function app.public(record) return Fleet.public(record) end
  function app.create(fields) return fleet:create(fields) end
  function app.stop(id) return fleet:stop(id) end
  function app.delete(id) return fleet:delete(id) end
  function app.on_change(fn) fleet:on_change(fn) end
  -- A number that changes whenever any sandbox does: for caches and ETags.
  function app.generation() return fleet.generation end

  -- Runs FN in a task every MS milliseconds; the next run is planned when
  -- one ends, so two never overlap.
  function app.every(ms, fn)
    local handle = { stopped = false }
    local timer = uv.new_timer()
    local function tick()
      async.spawn_task(function()
        local ok, err = xpcall(fn, debug.traceback)
        if not ok then log.error("periodic work failed: " .. err) end
        if not handle.stopped then timer:start(ms, 0, tick) end
      end)
    end
    function handle.stop()
      handle.stopped = true
      if not timer:is_closing() then timer:close() end
    end
    timer:start(ms, 0, tick)
    periodic[#periodic + 1] = handle
    return handle
  end

  -- For the manager's shutdown.
  local function stop_periodic()
    for _, handle in ipairs(periodic) do handle.stop() end
  end
  return app, stop_periodic
end

return M
