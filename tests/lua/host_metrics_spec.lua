-- The host's and a sandbox's figures, from the real /proc and from
-- samples of its formats.
local async = require "sbx.async"
local uv = require "luv"
local system = require "sbx.dashboard.system_metrics"
local processes = require "sbx.dashboard.process_metrics"
local proc = require "sbx.proc"

describe("system metrics", function()
  it("parse /proc's formats", function()
    local cpu = system.parse_cpu("cpu  100 5 50 800 40 3 2 0 7 0\ncpu0 1 2 3\n")
    assert.same({ busy = 160, total = 1000 }, cpu)
    local memory = system.parse_meminfo("MemTotal:       1000 kB\nMemFree:  10 kB\nMemAvailable:    400 kB\n")
    assert.same({ total = 1024000, used = 614400, available = 409600 }, memory)
    assert.same({ 0.5, 1.25, 2 }, system.parse_loadavg("0.50 1.25 2.00 1/100 4242\n"))
    local net = system.parse_net_dev(table.concat {
      "Inter-|   Receive                            |  Transmit\n",
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes ...\n",
      "    lo: 999 9 0 0 0 0 0 0 999 9 0 0 0 0 0 0\n",
      "  eth0: 1000 10 0 0 0 0 0 0 300 3 0 0 0 0 0 0\n",
      "wlan0:24 1 0 0 0 0 0 0 6 1 0 0 0 0 0 0\n",
    })
    assert.same({ rx = 1024, tx = 306 }, net)
    assert.is_nil(system.parse_cpu("garbage"))
    assert.is_nil(system.parse_meminfo(nil))
  end)

  it("counts a file system once, however many times it is mounted", function()
    local disks = system.parse_mountinfo(table.concat {
      "22 1 254:0 / / rw - ext4 /dev/vda rw\n",
      "23 22 0:21 / /proc rw - proc proc rw\n",
      "24 22 254:0 /home/me/proj /home/me/proj rw shared:1 - ext4 /dev/vda rw\n",
      "25 22 254:1 / /mnt/my\\040disk rw - xfs /dev/vdb rw\n",
      "26 22 0:40 / /tmp rw - tmpfs tmpfs rw\n",
      "27 22 254:1 / /mnt/a rw - xfs /dev/vdb rw\n",
      "not a mountinfo line\n",
    })
    assert.equal(2, #disks)
    assert.same({ "254:0", "/" }, { disks[1].device, disks[1].mount })
    assert.same({ "254:1", "/mnt/a", "/dev/vdb" }, { disks[2].device, disks[2].mount, disks[2].source })
  end)

  it("samples this machine", function()
    local figures = async.run(function()
      return system.sample(system.sampler())
    end)
    assert.is_true(figures.cpu >= 0 and figures.cpu <= 1)
    assert.is_true(figures.memory.total > 0 and figures.memory.used <= figures.memory.total)
    assert.equal(3, #figures.load)
    assert.is_true(#figures.disks >= 1)
    local devices = {}
    for _, disk in ipairs(figures.disks) do
      assert.is_nil(devices[disk.device])
      devices[disk.device] = true
      assert.is_true(disk.total >= disk.used)
    end
    assert.is_true(figures.net.rx_rate >= 0)
  end)
end)

describe("process metrics", function()
  it("read a command name with spaces and parentheses", function()
    local stat = proc.parse_stat("42 (a) b (c)) S 7 42 42 0 -1 4194560 1 0 0 0 30 12 0 0 20 0")
    assert.equal(7, stat.ppid)
    assert.equal(42, stat.ticks)
    assert.is_nil(proc.parse_stat("garbage"))
  end)

  it("add up CPU and memory over a process tree", function()
    -- A shell whose child spins and has a sleeping child.
    local handle, pid = uv.spawn("sh", {
      args = { "-c", "sh -c 'sleep 30 & while :; do :; done' & wait" },
    }, function() end)
    assert.truthy(handle, pid)
    -- The spinning child must not outlive the test, even a failed one.
    finally(function()
      local tree = proc.tree(proc.all(), { pid })
      for i = #tree, 1, -1 do uv.kill(tree[i].pid, "sigkill") end
      handle:close()
    end)
    local sampler = processes.sampler()
    local figures
    async.run(function()
      async.sleep(200)
      processes.sample(sampler, { pid }, uv.hrtime() / 1e9)
      async.sleep(600)
      figures = processes.sample(sampler, { pid }, uv.hrtime() / 1e9)
    end)
    assert.is_true(figures.processes >= 3, "sh, the spinning sh and sleep: " .. figures.processes)
    -- A spinner on a busy machine may get a small share of a core; an
    -- idle tree shows none. Clearly above zero is what this can promise.
    assert.is_true(figures.cpu > 0.05, "a spinning child shows: " .. tostring(figures.cpu))
    assert.is_true(figures.rss_bytes > 1024 * 1024)
  end)

  it("find nothing for a root that does not exist", function()
    local figures = processes.sample(processes.sampler(), { 99999999 }, 1)
    assert.same({ processes = 0, rss_bytes = 0 }, figures)
  end)
end)
