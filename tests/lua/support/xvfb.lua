-- A real Xvfb for the specs: on a display that the manager's own check
-- finds free, started as the manager starts it, its screen kept in a file
-- (-fbdir). The function start returns ends it and waits, so its lock
-- file and socket are gone too.
local async = require "sbx.async"
local display = require "sbx.manager.display"
local process = require "sbx.manager.process"
local uv = require "luv"

local M = {}

-- A display number nothing uses now: random, so that suites running at
-- the same time on this machine do not reach for the same one.
function M.free_display()
  return async.run(function()
    for _ = 1, 50 do
      local n = math.random(300, 900)
      if display.is_free(n) then return n end
    end
  end)
end

-- Starts Xvfb on display N with a SCREEN ("800x600x24") kept in FB_DIR,
-- and waits until it accepts connections and its screen file is there.
-- Returns the function that stops it; raises when it does not start.
function M.start(n, fb_dir, screen)
  return async.run(function()
    local saved = display.screen
    display.screen = screen
    local identity, err = display.start_xvfb(n, fb_dir, fb_dir .. "/xvfb.log")
    display.screen = saved
    assert(identity, err)
    for _ = 1, 100 do
      if uv.fs_stat(fb_dir .. "/Xvfb_screen0") then break end
      async.sleep(50)
    end
    return function()
      async.run(function() assert(process.terminate({ identity }, 5000), "Xvfb did not end") end)
    end
  end)
end

return M
