-- bench/log_writer.lua PATH COUNT INTERVAL_MS: appends COUNT lines to PATH,
-- one every INTERVAL_MS, each holding the wall-clock time it was written
-- (microseconds), as a program in a sandbox's terminal would.
local uv = require "luv"
local path, count, interval = arg[1], tonumber(arg[2]), tonumber(arg[3])
local file = assert(io.open(path, "a"))
file:setvbuf("no")
local written = 0
local timer = uv.new_timer()
timer:start(interval, interval, function()
  local sec, usec = uv.gettimeofday()
  file:write(("stamp %d %s\n"):format(sec * 1000000 + usec, ("x"):rep(60)))
  written = written + 1
  if written == count then timer:close() end
end)
uv.run()
file:close()
