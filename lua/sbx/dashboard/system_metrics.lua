-- The host's figures for the dashboard, from /proc and statfs: CPU use
-- and network rates are differences between two samples, so a sampler
-- keeps the previous one.
local async = require "sbx.async"
local fs = require "sbx.fs"
local uv = require "luv"

local M = {}

M.proc = "/proc"


-- "cpu  user nice system idle iowait irq softirq steal ..." -> busy, total
function M.parse_cpu(text)
  local fields = text and text:match("^cpu%s+([%d%s]+)")
  if not fields then return nil end
  local values = {}
  for n in fields:gmatch("%d+") do values[#values + 1] = tonumber(n) end
  -- guest and guest_nice (9th, 10th) are already inside user and nice.
  local total = 0
  for i = 1, math.min(#values, 8) do total = total + values[i] end
  local idle = (values[4] or 0) + (values[5] or 0)
  return { busy = total - idle, total = total }
end

function M.parse_meminfo(text)
  local function kib(name)
    local value = text and text:match("\n?" .. name .. ":%s+(%d+) kB")
    return value and tonumber(value) * 1024
  end
  local total, available = kib("MemTotal"), kib("MemAvailable")
  if not total or not available then return nil end
  return { total = total, used = total - available, available = available }
end

function M.parse_loadavg(text)
  local one, five, fifteen = (text or ""):match("^(%S+)%s+(%S+)%s+(%S+)")
  if not one then return nil end
  return { tonumber(one), tonumber(five), tonumber(fifteen) }
end

-- Received and sent bytes over every interface but loopback.
function M.parse_net_dev(text)
  local rx, tx, seen = 0, 0, false
  for name, counters in (text or ""):gmatch("\n%s*([^%s:]+):([^\n]*)") do
    if name ~= "lo" then
      local values = {}
      for n in counters:gmatch("%d+") do values[#values + 1] = tonumber(n) end
      if #values >= 9 then
        rx, tx, seen = rx + values[1], tx + values[9], true
      end
    end
  end
  if not seen then return { rx = 0, tx = 0 } end
  return { rx = rx, tx = tx }
end

-- File systems that hold no disk space of their own.
M.virtual_types = {}
for name in ([[proc sysfs devtmpfs devpts tmpfs cgroup cgroup2 mqueue debugfs tracefs
  securityfs pstore bpf autofs hugetlbfs configfs fusectl binfmt_misc nsfs rpc_pipefs
  efivarfs ramfs squashfs selinuxfs fuse.gvfsd-fuse fuse.portal]]):gmatch("%S+") do
  M.virtual_types[name] = true
end

local function unescape_mount(path)
  return (path:gsub("\\(%d%d%d)", function(octal) return string.char(tonumber(octal, 8)) end))
end

-- One entry per device (a file system mounted at several places, bind
-- mounts included, counts once: at its shortest mount point).
function M.parse_mountinfo(text)
  local by_device, order = {}, {}
  for entry in (text or ""):gmatch("[^\n]+") do
    local before, after = entry:match("^(.-) %- (.*)$")
    if before then
      local device, mount = before:match("^%S+ %S+ (%S+) %S+ (%S+)")
      local fstype, source = after:match("^(%S+) (%S+)")
      if device and fstype and not M.virtual_types[fstype] then
        mount = unescape_mount(mount)
        local known = by_device[device]
        if not known then
          known = { device = device, type = fstype, source = unescape_mount(source), mount = mount }
          by_device[device] = known
          order[#order + 1] = known
        elseif #mount < #known.mount then
          known.mount = mount
        end
      end
    end
  end
  return order
end

-- statfs in the thread pool: a hung network file system must not stop
-- the loop. Waits; returns the table or nil.
local function statfs(path)
  local err, stat = async.wait(function(done) uv.fs_statfs(path, done) end)
  return not err and stat or nil
end

function M.disks()
  local disks = {}
  for _, filesystem in ipairs(M.parse_mountinfo(fs.read(M.proc .. "/self/mountinfo"))) do
    local stat = statfs(filesystem.mount)
    if stat and stat.blocks > 0 then
      filesystem.total = stat.blocks * stat.bsize
      filesystem.used = (stat.blocks - stat.bfree) * stat.bsize
      filesystem.available = stat.bavail * stat.bsize
      disks[#disks + 1] = filesystem
    end
  end
  return disks
end

local function read_counters()
  return {
    time = uv.hrtime() / 1e9,
    cpu = M.parse_cpu(fs.read(M.proc .. "/stat")),
    net = M.parse_net_dev(fs.read(M.proc .. "/net/dev")),
  }
end

-- A sampler remembers the previous counters. On its first use it waits a
-- quarter of a second for a second sample, so CPU use is never a guess.
function M.sampler()
  return { previous = nil }
end

-- Waits (statfs, and the first sample); returns the figures.
function M.sample(sampler)
  if not sampler.previous then
    sampler.previous = read_counters()
    async.sleep(250)
  end
  local now, before = read_counters(), sampler.previous
  local seconds = now.time - before.time
  local figures = {
    memory = M.parse_meminfo(fs.read(M.proc .. "/meminfo")),
    load = M.parse_loadavg(fs.read(M.proc .. "/loadavg")),
    disks = M.disks(),
  }
  if now.cpu and before.cpu and now.cpu.total > before.cpu.total then
    figures.cpu = (now.cpu.busy - before.cpu.busy) / (now.cpu.total - before.cpu.total)
  end
  if seconds > 0 then
    figures.net = {
      rx_rate = math.max(0, now.net.rx - before.net.rx) / seconds,
      tx_rate = math.max(0, now.net.tx - before.net.tx) / seconds,
      rx_total = now.net.rx, tx_total = now.net.tx,
    }
  end
  -- Rates over a very short interval are noise: keep the older sample
  -- until a second has passed.
  if seconds >= 1 then sampler.previous = now end
  return figures
end

return M
