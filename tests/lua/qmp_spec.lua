-- VM screens: a real QEMU's screendump read back as PPM, and monitors
-- that misbehave (garbage, errors, silence, floods) giving errors.
local async = require "sbx.async"
local uv = require "luv"
local fb = require "sbx.fb"
local paths = require "sbx.paths"
local qmp = require "sbx.dashboard.qmp_screendump"

local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

-- A Unix socket server that answers each connection with SCRIPT(client).
local function fake_monitor(path, script)
  local server = uv.new_pipe(false)
  assert(server:bind(path))
  server:listen(4, function()
    local client = uv.new_pipe(false)
    server:accept(client)
    script(client)
  end)
  return server
end

describe("QMP screendump", function()
  -- The misbehaving monitors below write to connections the client has
  -- closed: like the manager, the test process must survive SIGPIPE.
  local sigpipe = uv.new_signal()
  sigpipe:start("sigpipe", function() end)
  teardown(function() sigpipe:close() end)
  local dir
  before_each(function() dir = scratch.dir() end)
  after_each(function() scratch.remove(dir) end)

  it("dumps a real QEMU's screen to a PPM that sbx.fb reads", function()
    if not paths.which("qemu-system-x86_64") then
      pending("this machine has no qemu-system-x86_64")
      return
    end
    local socket = dir .. "/qmp.sock"
    local qemu = uv.spawn("qemu-system-x86_64", { args = { "-M", "pc,accel=tcg", "-nodefaults",
      "-vga", "std", "-display", "none", "-S", "-qmp", "unix:" .. socket .. ",server=on,wait=off" } },
      function() end)
    finally(function()
      qemu:kill("sigterm")
      qemu:close()
    end)
    local ok, err
    async.run(function()
      for _ = 1, 100 do
        if uv.fs_stat(socket) then break end
        async.sleep(50)
      end
      ok, err = qmp.dump(socket, dir .. "/screen.ppm")
    end)
    assert.is_true(ok, err)
    local screen = fb.open(dir .. "/screen.ppm", "ppm")
    local width, height = screen:size()
    assert.is_true(width >= 320 and height >= 200, ("%sx%s"):format(width, height))
    local jpeg = assert(screen:jpeg { max_width = 160 })
    assert.equal("\255\216", jpeg:sub(1, 2))
    screen:close()
  end)

  local misbehaviours = {
    { "garbage instead of a greeting", function(c) c:write("\0\1\2 not json\n{]\n") c:close() end,
      "closed" },
    { "an error reply", function(c)
      c:write('{"QMP":{"version":{}}}\r\n')
      c:read_start(function(_, data)
        if data and data:find("screendump", 1, true) then
          c:write('{"error":{"class":"GenericError","desc":"no display"}}\r\n')
        elseif data then
          c:write('{"return":{}}\r\n')
        end
      end)
    end, "no display" },
    { "silence", function() end, "no answer" },
    { "a flood without newlines", function(c) c:write(string.rep("x", 2 * 1024 * 1024)) end, "too long" },
    { "events only", function(c)
      c:write('{"QMP":{}}\n')
      c:read_start(function(_, data)
        if data then c:write('{"event":"STOP"}\n{"event":"RESUME"}\n') end
      end)
    end, "no answer" },
  }
  for _, case in ipairs(misbehaviours) do
    it("reports a monitor that sends " .. case[1], function()
      local socket = dir .. "/bad.sock"
      local server = fake_monitor(socket, case[2])
      local saved = qmp.timeout_ms
      qmp.timeout_ms = 500
      local ok, err = async.run(function() return qmp.dump(socket, dir .. "/x.ppm") end)
      qmp.timeout_ms = saved
      server:close()
      assert.is_nil(ok)
      assert.truthy(err:find(case[3], 1, true), err)
    end)
  end

  it("reports a socket nobody listens on", function()
    local ok, err = async.run(function() return qmp.dump(dir .. "/none.sock", dir .. "/x.ppm") end)
    assert.is_nil(ok)
    assert.truthy(err:find("none.sock", 1, true))
  end)
end)
