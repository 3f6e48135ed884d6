-- bench/logs.lua DIR: the log tailer (inotify on the loop, engine/tail.c)
-- against a reader that polls the file every 100 ms, in the same process
-- and the same run: latency from write to delivery, and throughput.
local uv = require "luv"
local hub = require "sbx.dashboard.log_hub"

local dir = arg[1]
local function now_us()
  local sec, usec = uv.gettimeofday()
  return sec * 1000000 + usec
end

-- The alternative: every 100 ms, read what was appended.
local function poller(path, on_data)
  local offset = 0
  local timer = uv.new_timer()
  timer:start(100, 100, function()
    local file = io.open(path, "rb")
    if not file then return end
    file:seek("set", offset)
    local data = file:read("a")
    file:close()
    if data and #data > 0 then
      offset = offset + #data
      on_data(data)
    end
  end)
  return timer
end

local function stamps(data, into, at)
  for stamp in data:gmatch("stamp (%d+)") do into[#into + 1] = (at - tonumber(stamp)) / 1000 end
end

local function summary(list)
  table.sort(list)
  local function pick(q) return list[math.max(1, math.ceil(#list * q))] end
  return ("%d lines: median %.2f ms, p95 %.2f ms, max %.2f ms"):format(#list, pick(0.5), pick(0.95), list[#list])
end

local function run_writer(args)
  local done = false
  local handle = uv.spawn(uv.exepath(), { args = args, stdio = { nil, 1, 2 } },
    function() done = true end)
  while not done do uv.run("once") end
  handle:close()
end

-- Latency: 200 lines, 20 ms apart.
local path = dir .. "/latency.log"
io.open(path, "w"):close()
local tail_latency, poll_latency = {}, {}
local position = 0
local viewer = hub.subscribe(path, function() end)
viewer.on_data = function()
  local data, _, finish = viewer:read(position)
  position = finish
  stamps(data, tail_latency, now_us())
end
local timer = poller(path, function(data) stamps(data, poll_latency, now_us()) end)
run_writer { "lua", "bench/log_writer.lua", "--", path, "200", "20" }
local settle = uv.new_timer()
settle:start(300, 0, function()
  settle:close()
  uv.stop()
end)
uv.run()
print("latency tail " .. summary(tail_latency))
print("latency poll " .. summary(poll_latency))
viewer.close()
timer:close()

-- Throughput: 200 MB appended as fast as dd writes it.
local big = dir .. "/throughput.log"
io.open(big, "w"):close()
local total = 200 * 1024 * 1024
local tail_done, poll_done, poll_bytes = nil, nil, 0
local delivered, reached = 0, 0
local start = uv.hrtime()
local fast = hub.subscribe(big, function() end)
-- A viewer as the WebSocket one: reads from where it stopped. When the
-- writer outruns it, the ring's window has moved on and bytes are skipped.
fast.on_data = function()
  local data, _, finish = fast:read(reached)
  delivered, reached = delivered + #data, finish
  if finish >= total and not tail_done then tail_done = uv.hrtime() end
end
local slow = poller(big, function(data)
  poll_bytes = poll_bytes + #data
  if poll_bytes >= total and not poll_done then poll_done = uv.hrtime() end
end)
local dd = uv.spawn("dd", { args = { "if=/dev/zero", "of=" .. big, "bs=1M", "count=200", "status=none" } },
  function() end)
while not (tail_done and poll_done) do uv.run("once") end
dd:close()
local function mbps(t) return total / 1048576 / ((t - start) / 1e9) end
print(("throughput tail %.0f MB/s (%.0f MB delivered, the rest skipped) poll %.0f MB/s"):format(
  mbps(tail_done), delivered / 1048576, mbps(poll_done)))
fast.close()
slow:close()
