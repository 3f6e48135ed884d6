-- The shared loop survives errors in callbacks: logged with a traceback,
-- and the loop goes on.
local uv = require "luv"
local log = require "sbx.log"
local fs = require "sbx.fs"
local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

describe("a luv callback that raises", function()
  local log_path = scratch.path("log")
  after_each(function()
    log.set_file(nil)
    os.remove(log_path)
  end)

  it("is logged with its traceback and the next timer still fires", function()
    assert(log.set_file(log_path))
    local function explode_in_callback() error("boom from a timer") end
    local next_fired = false
    local failing = uv.new_timer()
    failing:start(1, 0, function()
      failing:close()
      explode_in_callback()
    end)
    local following = uv.new_timer()
    following:start(20, 0, function()
      following:close()
      next_fired = true
    end)
    uv.run("default")
    local text = fs.read(log_path)
    assert.truthy(text:find("boom from a timer", 1, true))
    assert.truthy(text:find("stack traceback:", 1, true))
    assert.truthy(text:find("explode_in_callback", 1, true))
    assert.is_true(next_fired)
  end)
end)
