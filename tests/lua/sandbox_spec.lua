-- The engine's sandbox executor, with real namespaces: plan checks, the
-- file system it builds, hardening, enter, signals and lifetimes.
local pidfd = require "sbx.pidfd"
local sandbox = require "sbx.sandbox"
local fs = require "sbx.fs"
local uv = require "luv"

local uid, gid = uv.getuid(), uv.getgid()

local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

-- A small working sandbox whose shell command writes into OUT (a host
-- directory bound at /out). EXTRA mounts go after the base ones.
local function base_plan(out, command, extra)
  local plan = {
    namespaces = { "user", "mount", "pid", "ipc", "uts", "cgroup", "net" },
    uid_map = { inside = uid, outside = uid },
    gid_map = { inside = gid, outside = gid },
    hostname = "sbx-spec",
    mounts = {
      { op = "bind", source = "/usr", dest = "/usr", readonly = true },
      { op = "symlink", target = "usr/bin", dest = "/bin" },
      { op = "symlink", target = "usr/lib", dest = "/lib" },
      { op = "symlink", target = "usr/lib64", dest = "/lib64" },
      { op = "tmpfs", dest = "/tmp", mode = "1777" },
      { op = "proc", dest = "/proc" },
      { op = "dev", dest = "/dev" },
      { op = "bind", source = out, dest = "/out" },
    },
    env = { "PATH=/usr/bin:/bin", "HOME=/tmp" },
    cwd = "/out",
    argv = { "sh", "-c", command },
    seccomp = {},
    terminal = "stdio",
  }
  for _, op in ipairs(extra or {}) do table.insert(plan.mounts, op) end
  return plan
end

-- Waits until the box has ended; returns its exit table.
local function wait_exit(box)
  -- A bound against hanging, not a speed requirement: a loaded machine
  -- may take seconds to tear a PID namespace down.
  for _ = 1, 6000 do
    local status = box:reap()
    if status then return status end
    uv.sleep(10)
  end
  error("the sandbox did not end in 60 s")
end

-- Runs PLAN to its end; returns the exit table, or nil and why it did
-- not start.
local function run_plan(plan)
  local box = assert(sandbox.spawn(plan))
  local started, err = box:start()
  local status = wait_exit(box)
  box:close()
  if not started then return nil, err end
  return status
end

-- Runs COMMAND in a fresh sandbox; returns the exit table and what the
-- command wrote to /out/result.
local function run(command, extra)
  local out = scratch.dir(tonumber("755", 8))
  local status, err = run_plan(base_plan(out, "{ " .. command .. "; } > /out/result 2>&1", extra))
  if not status then return nil, err end
  return status, fs.read(out .. "/result") or ""
end

-- Host processes whose command line contains MARKER.
local function host_processes_with(marker)
  local found = {}
  local dir = assert(uv.fs_scandir("/proc"))
  for name in uv.fs_scandir_next, dir do
    local cmdline = name:match("^%d+$") and fs.read("/proc/" .. name .. "/cmdline")
    if cmdline and cmdline:find(marker, 1, true) then found[#found + 1] = name end
  end
  return found
end

describe("sandbox.check", function()
  local function refused(adjust, expected)
    local plan = base_plan("/tmp", "true")
    adjust(plan)
    local ok, err = sandbox.check(plan)
    assert.is_nil(ok)
    assert.truthy(err:find(expected, 1, true), err)
  end

  it("accepts a good plan", function()
    assert.is_true(sandbox.check(base_plan("/tmp", "true")))
  end)
  it("refuses an unknown field", function()
    refused(function(p) p.mount = {} end, "unknown field 'mount'")
  end)
  it("refuses a plan without the mandatory namespaces", function()
    refused(function(p) p.namespaces = { "mount", "pid" } end, "must include user, mount")
  end)
  it("refuses relative and dotted destinations", function()
    refused(function(p) p.mounts[5].dest = "tmp" end, "mounts[5].dest must be an absolute path")
    refused(function(p) p.mounts[5].dest = "/usr/../etc" end, "without '.' or '..'")
  end)
  it("refuses an unknown mount op and misplaced fields", function()
    refused(function(p) p.mounts[1].op = "overlay" end, "mounts[1].op 'overlay' is not one of")
    refused(function(p) p.mounts[5].source = "/x" end, "source only goes with bind")
    refused(function(p) p.mounts[1].contents = "x" end, "contents and fd only go with file")
    refused(function(p) table.insert(p.mounts, { op = "file", dest = "/etc/x" }) end,
      "a file needs contents or fd")
    refused(function(p) p.mounts[5].mode = "rwx" end, "must be an octal string")
  end)
  it("refuses a malformed environment, an empty argv, a bad terminal", function()
    refused(function(p) p.env = { "NOEQUALS" } end, "plan.env[1] must be NAME=value")
    refused(function(p) p.argv = {} end, "plan.argv must not be empty")
    refused(function(p) p.terminal = "tty" end, "plan.terminal must be")
    refused(function(p) p.lifetime = "forever" end, "plan.lifetime must be")
  end)
  it("refuses unknown seccomp names and limits", function()
    refused(function(p) p.seccomp = { syscalls = { "fork_bomb" } } end, "unknown system call 'fork_bomb'")
    refused(function(p) p.seccomp = { ioctls = { "TIOCNOPE" } } end, "unknown ioctl 'TIOCNOPE'")
    refused(function(p) p.limits = { cores = 0 } end, "unknown limit 'cores'")
  end)
  it("refuses wrong types without raising", function()
    refused(function(p) p.hostname = 7 end, "plan.hostname must be a string, not a number")
    refused(function(p) p.mounts[2] = "oops" end, "mounts[2] must be a table")
    refused(function(p) p.uid_map = { inside = -1, outside = 0 } end, "ids must be between")
  end)
end)

describe("a spawned sandbox", function()
  it("runs the entry hardened: no capabilities, no_new_privs, seccomp, own hostname", function()
    local status, out = run(
      "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status; hostname; id -u")
    assert.equal(0, status.code, out)
    for _, cap in ipairs { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" } do
      assert.truthy(out:find(cap .. ":%s+0000000000000000"), out)
    end
    assert.truthy(out:find("NoNewPrivs:%s+1"), out)
    assert.truthy(out:find("Seccomp:%s+2"), out)
    assert.truthy(out:find("sbx-spec\n" .. uid .. "\n", 1, true), out)
  end)

  it("gives the entry every standard signal at its default, SIGPIPE too (sbx itself ignores it)", function()
    local status, out = run("grep '^SigIgn:' /proc/self/status")
    assert.equal(0, status.code, out)
    -- Signals 32 and up are the C library's own business.
    local ignored = tonumber(assert(out:match("SigIgn:%s+(%x+)"), out), 16)
    assert.equal(0, ignored & 0x7fffffff, out)
  end)

  it("sees only its own processes, and cannot signal the host's", function()
    local status, out = run(("ls /proc | grep -c '^[0-9]'; kill -0 %d && echo SIGNALLED; true"):format(uv.os_getpid()))
    assert.equal(0, status.code, out)
    assert.truthy(tonumber(out:match("^(%d+)")) <= 5, out)
    assert.falsy(out:find("SIGNALLED", 1, true), out)
  end)

  it("has a read-only root, read-only binds, host-wide /proc knobs read-only", function()
    local _, out = run("touch /newfile || echo ROOT-RO; touch /usr/x || echo USR-RO; "
      .. "echo x > /proc/sys/kernel/hostname || echo SYS-RO; echo ok > /out/w && echo OUT-RW")
    for _, word in ipairs { "ROOT-RO", "USR-RO", "SYS-RO", "OUT-RW" } do
      assert.truthy(out:find(word, 1, true), out)
    end
  end)

  it("cannot mount anything", function()
    local _, out = run("mount -t tmpfs none /tmp 2>&1 || echo MOUNT-REFUSED")
    assert.truthy(out:find("MOUNT-REFUSED", 1, true), out)
  end)

  it("skips a missing source with try and fails clearly without", function()
    local status = run("true", { { op = "bind", source = "/nonexistent-sbx", dest = "/x", try = true } })
    assert.equal(0, status.code)
    local failed, err = run("true", { { op = "bind", source = "/nonexistent-sbx", dest = "/x" } })
    assert.is_nil(failed)
    assert.truthy(err:find("bind /nonexistent-sbx", 1, true), err)
  end)

  it("refuses a symlinked source unless the plan allows it", function()
    local dir = scratch.dir(tonumber("755", 8))
    assert(uv.fs_symlink("/etc", dir .. "/link"))
    local failed, err = run("true", { { op = "bind", source = dir .. "/link", dest = "/x", readonly = true } })
    assert.is_nil(failed)
    assert.truthy(err:find("symlink is in the way", 1, true), err)
    local status, out = run("ls /x/hostname", {
      { op = "bind", source = dir .. "/link", dest = "/x", readonly = true, follow_symlinks = true } })
    assert.equal(0, status.code, out)
  end)

  it("will not mount through a symlink planted in a writable bind", function()
    local planted = scratch.dir(tonumber("755", 8))
    assert(uv.fs_symlink("/tmp", planted .. "/hooks"))
    local failed, err = run("true", {
      { op = "bind", source = planted, dest = "/home/me/.claude" },
      { op = "bind", source = "/usr/share", dest = "/home/me/.claude/hooks", readonly = true },
    })
    assert.is_nil(failed)
    assert.truthy(err:find("cannot make the mount point", 1, true), err)
  end)

  it("writes files, dirs and symlinks, read-only on request", function()
    local status, out = run("cat /etc/greeting; ls -ld /home/me | cut -c1-10; "
      .. "echo x >> /etc/greeting || echo FILE-RO; touch /home/me/w && echo DIR-RW", {
        { op = "file", dest = "/etc/greeting", contents = "hello\n", readonly = true },
        { op = "tmpfs", dest = "/home" },
        { op = "dir", dest = "/home/me", mode = "0700" },
      })
    assert.equal(0, status.code, out)
    assert.truthy(out:find("hello\ndrwx------", 1, true), out)
    assert.truthy(out:find("FILE-RO", 1, true), out)
    assert.truthy(out:find("DIR-RW", 1, true), out)
  end)

  it("makes a subtree read-only with remount-ro", function()
    local writable = scratch.dir(tonumber("755", 8))
    assert(fs.mkdir_p(writable .. "/keep"))
    local _, out = run("touch /w/ok && echo TOP-RW; touch /w/keep/x || echo SUB-RO", {
      { op = "bind", source = writable, dest = "/w" },
      { op = "remount-ro", dest = "/w/keep" },
    })
    assert.truthy(out:find("TOP-RW", 1, true), out)
    assert.truthy(out:find("SUB-RO", 1, true), out)
  end)

  it("reports an entry that cannot be run", function()
    local plan = base_plan(scratch.dir(tonumber("755", 8)), "true")
    plan.argv = { "no-such-program-sbx" }
    assert.equal(127, run_plan(plan).code)
  end)

  it("gives the entry a terminal of its own, named inside", function()
    local out = scratch.dir(tonumber("755", 8))
    local plan = base_plan(out, "tty > /out/tty; echo through-the-pty")
    plan.terminal = "pty"
    local box = assert(sandbox.spawn(plan))
    assert(box:start())
    assert.is_number(box.pty)
    local chunks = {}
    local pipe = uv.new_pipe(false)
    pipe:open(box.pty)
    pipe:read_start(function(_, data)
      if data then chunks[#chunks + 1] = data else pipe:close() end
    end)
    local done = false
    local poll = uv.new_poll(box.pidfd)
    poll:start("r", function() poll:close(); done = true end)
    while not done or not pipe:is_closing() do uv.run("once") end
    assert.equal(0, box:reap().code)
    assert.equal("/dev/pts/0\n", fs.read(out .. "/tty"))
    assert.truthy(table.concat(chunks):find("through-the-pty", 1, true))
    box:close()
  end)
end)

describe("a running sandbox", function()
  local out, box
  before_each(function()
    out = scratch.dir(tonumber("755", 8))
    local plan = base_plan(out, "echo inside > /tmp/marker; exec sleep 30")
    box = assert(sandbox.spawn(plan))
    assert(box:start())
    uv.sleep(100)
  end)
  after_each(function()
    box:signal("kill")
    wait_exit(box)
    box:close()
  end)

  it("can be entered, into the same namespaces and root", function()
    local plan = base_plan(out, "cat /tmp/marker > /out/entered; ls /proc | grep -c '^[0-9]' >> /out/entered")
    plan.namespaces, plan.uid_map, plan.gid_map, plan.hostname, plan.mounts = nil, nil, nil, nil, nil
    local entered = assert(sandbox.enter(box.pid, assert(pidfd.start_time(box.pid)), plan))
    assert(entered:start())
    assert.equal(0, wait_exit(entered).code)
    entered:close()
    local text = fs.read(out .. "/entered")
    assert.truthy(text:find("^inside\n"), text)
    assert.truthy(tonumber(text:match("\n(%d+)")) >= 3, text) -- init, sleep, the shell
  end)

  it("is not entered through a pid whose start time does not match", function()
    local plan = base_plan(out, "true")
    local entered, err = sandbox.enter(box.pid, pidfd.start_time(box.pid) + 1, plan)
    assert.is_nil(entered)
    assert.truthy(err:find("is gone", 1, true), err)
  end)

  it("ends with every process in it on SIGTERM to its init", function()
    assert(box:signal("term"))
    assert.equal(128 + 15, wait_exit(box).code)
    assert.is_nil(uv.kill(box.pid, 0) == 0 and true or nil)
  end)
end)

describe("the lifetime", function()
  it("'entry' ends the sandbox, background processes included, when the entry ends", function()
    assert.equal(0, run_plan(base_plan(scratch.dir(tonumber("755", 8)), "sleep 31.4159 & true")).code)
    uv.sleep(100)
    assert.same({}, host_processes_with("31.4159"))
  end)

  it("'all' keeps it until the last process ends", function()
    local out = scratch.dir(tonumber("755", 8))
    local plan = base_plan(out, "(sleep 0.5; echo late > /out/late) & exit 3")
    plan.lifetime = "all"
    assert.equal(3, run_plan(plan).code)
    assert.equal("late\n", fs.read(out .. "/late"))
  end)
end)

describe("sandbox.open", function()
  it("signals a running sandbox by pid and start time, and sees it end", function()
    local plan = base_plan(scratch.dir(tonumber("755", 8)), "exec sleep 30")
    local child = assert(sandbox.spawn(plan))
    assert(child:start())
    local opened = assert(sandbox.open(child.pid, assert(pidfd.start_time(child.pid))))
    assert.is_nil(opened:reap())
    assert(opened:signal("term"))
    assert.equal(128 + 15, wait_exit(child).code)
    assert.same({}, opened:reap())
    opened:close()
    child:close()
  end)

  it("refuses a process that is not a sandbox's init", function()
    local me = math.tointeger(uv.os_getpid())
    local opened, err = sandbox.open(me, assert(pidfd.start_time(me)))
    assert.is_nil(opened)
    assert.truthy(err:find("is not a sandbox", 1, true), err)
  end)
end)

describe("die_with_parent", function()
  -- A separate sbx process spawns a sandbox, prints its init's pid and
  -- start time, and exits: does the sandbox outlive it?
  local function orphan(die_with_parent)
    local script = scratch.path("orphan.lua")
    local file = assert(io.open(script, "w"))
    file:write(([[
      local sandbox = require "sbx.sandbox"
      local plan = load("return " .. %q)()
      local box = assert(sandbox.spawn(plan))
      assert(box:start())
      io.write(box.pid, " ", require("sbx.pidfd").start_time(box.pid), "\n")
    ]]):format(require("sbx.pretty").lua((function()
      -- Its output must not hold the pipe we read the pid from.
      local plan = base_plan(scratch.dir(tonumber("755", 8)), "exec sleep 30 > /dev/null 2>&1")
      plan.die_with_parent = die_with_parent
      return plan
    end)())))
    file:close()
    local output = io.popen(("%q lua %q"):format(uv.exepath(), script)):read("a")
    local pid, start_time = output:match("^(%d+) (%d+)")
    assert(pid, output)
    return math.tointeger(tonumber(pid)), math.tointeger(tonumber(start_time))
  end

  it("false: the sandbox goes on after the process that made it ends", function()
    local pid, start_time = orphan(false)
    uv.sleep(200)
    local opened = assert(sandbox.open(pid, start_time))
    finally(function()
      opened:signal("kill")
      opened:close()
    end)
    assert.is_nil(opened:reap())
  end)

  it("true (the default): the sandbox ends with it", function()
    local pid, start_time = orphan(true)
    uv.sleep(200)
    local opened = sandbox.open(pid, start_time)
    if opened then
      -- It failed: it outlived its parent, but must not outlive the test.
      opened:signal("kill")
      opened:close()
    end
    assert.is_nil(opened)
  end)
end)
