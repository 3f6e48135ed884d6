-- Asks a QEMU to write its screen to a PPM file, over its QMP socket: the
-- greeting, qmp_capabilities, then screendump. One short connection per
-- dump, so it never holds the monitor from anyone else for long.
local async = require "sbx.async"
local cjson = require "cjson"
local uv = require "luv"

local M = {}

M.timeout_ms = 5000
-- A monitor that floods us without ever answering is cut off.
local MAX_BUFFER = 1024 * 1024

-- Waits; returns true, or nil and a message.
function M.dump(socket_path, ppm_path)
  local pipe = uv.new_pipe(false)
  local buffer, replies, waiting = "", {}, nil
  local failure
  local timer = uv.new_timer()

  local function wake()
    local done = waiting
    waiting = nil
    if done then done() end
  end
  local function fail(message)
    failure = failure or message
    wake()
  end
  -- The next reply that is not an asynchronous event.
  local function next_reply()
    while #replies == 0 and not failure do
      async.wait(function(done) waiting = done end)
    end
    if failure then return nil end
    return table.remove(replies, 1)
  end

  timer:start(M.timeout_ms, 0, function() fail("QMP: no answer in time") end)
  local connected_err = async.wait(function(done) pipe:connect(socket_path, done) end)
  local function finish(...)
    timer:close()
    if not pipe:is_closing() then pipe:close() end
    return ...
  end
  if connected_err then return finish(nil, ("QMP %s: %s"):format(socket_path, connected_err)) end
  pipe:read_start(function(err, data)
    if err or not data then return fail("QMP: the monitor closed the connection") end
    buffer = buffer .. data
    local start = 1
    while true do
      local newline = buffer:find("\n", start, true)
      if not newline then break end
      local ok, message = pcall(cjson.decode, buffer:sub(start, newline - 1))
      if ok and type(message) == "table" and message.event == nil then
        replies[#replies + 1] = message
      end
      start = newline + 1
    end
    buffer = buffer:sub(start)
    if #buffer > MAX_BUFFER then return fail("QMP: reply too long") end
    wake()
  end)

  local greeting = next_reply()
  if not greeting or not greeting.QMP then
    return finish(nil, failure or "QMP: no greeting")
  end
  for _, command in ipairs {
    { execute = "qmp_capabilities" },
    { execute = "screendump", arguments = { filename = ppm_path } },
  } do
    pipe:write(cjson.encode(command) .. "\n")
    local reply = next_reply()
    if not reply then return finish(nil, failure) end
    if type(reply.error) == "table" then
      return finish(nil, ("QMP %s: %s"):format(command.execute, tostring(reply.error.desc)))
    end
  end
  return finish(true)
end

return M
