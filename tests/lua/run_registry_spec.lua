-- The registry of running sandboxes: an entry counts only while its pid
-- still names the process that started at its start time.
local registry = require "sbx.run.registry"
local pidfd = require "sbx.pidfd"
local fs = require "sbx.fs"
local uv = require "luv"
local cjson = require "cjson"
local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

describe("the registry of running sandboxes", function()
  local root, saved
  before_each(function()
    root = scratch.dir()
    saved = os.getenv("XDG_STATE_HOME")
    uv.os_setenv("XDG_STATE_HOME", root)
  end)
  after_each(function()
    if saved then uv.os_setenv("XDG_STATE_HOME", saved) else uv.os_unsetenv("XDG_STATE_HOME") end
    scratch.remove(root)
  end)

  local request = { project = { id = "proj-0123456789ab", path = "/srv/proj" }, network = "none" }
  local me = math.tointeger(uv.os_getpid())

  it("lists an entry whose pid and start time still match, for its project only", function()
    local file = assert(registry.register(request, { pid = me }, pidfd.start_time(me)))
    local entries = registry.list("proj-0123456789ab")
    assert.equal(1, #entries)
    assert.equal(me, entries[1].pid)
    assert.equal(file, entries[1].file)
    assert.equal(0, #registry.list("other-0123456789ab"))
    assert.equal(tonumber("600", 8), uv.fs_stat(file).mode & tonumber("777", 8))
  end)

  it("records the backend and what the backend adds, and splits entries by how they are joined", function()
    local vm_request = { project = request.project, network = "none", backend = "vm" }
    assert(registry.register(vm_request, { pid = me }, pidfd.start_time(me), { runtime = "/x/vm/1" }))
    local entries = registry.list("proj-0123456789ab")
    assert.equal("vm", entries[1].backend)
    assert.equal("/x/vm/1", entries[1].runtime)
    local older = { project = "/srv/proj" } -- written before entries had a backend
    local container = { project = "/srv/proj", backend = "container" }
    local mine, other = registry.split_by_way({ older, entries[1], container }, "engine")
    assert.same({ older, container }, mine, "the engine joins its own sandboxes and containers")
    assert.equal(entries[1], other)
    mine, other = registry.split_by_way({ older, entries[1] }, "vm")
    assert.same({ entries[1] }, mine)
    assert.equal(older, other)
    assert.matches("a vm sandbox is running for /srv/proj: `sbx run %-%-backend vm` joins it",
      registry.other_backend_message(entries[1], "bubblewrap"))
    assert.matches("a bubblewrap sandbox is running", registry.other_backend_message(older, "vm"))
  end)

  it("drops an entry whose pid now names another process", function()
    local file = assert(registry.register(request, { pid = me }, pidfd.start_time(me) + 1))
    assert.equal(0, #registry.list())
    assert.is_nil(uv.fs_stat(file), "the stale entry is removed")
  end)

  it("keeps aside what is not an entry, and says so", function()
    assert(fs.mkdir_p(registry.dir()))
    local bad = registry.dir() .. "/proj-0123456789ab.5.json"
    assert(fs.write_atomic(bad, cjson.encode { id = "x", project = "/", pid = "1; reboot", start_time = 1 }))
    local entries, problems = registry.list()
    assert.equal(0, #entries)
    assert.equal(1, #problems)
    assert.truthy(uv.fs_stat(bad .. ".corrupt"))
  end)

  it("keeps aside an entry naming a backend that does not exist (it names a module to load)", function()
    assert(fs.mkdir_p(registry.dir()))
    local bad = registry.dir() .. "/proj-0123456789ab.6.json"
    assert(fs.write_atomic(bad, cjson.encode { id = "y", project = "/", pid = me, start_time = pidfd.start_time(me),
      backend = "../../../tmp/evil" }))
    local entries, problems = registry.list()
    assert.equal(0, #entries)
    assert.equal(1, #problems)
    assert.truthy(uv.fs_stat(bad .. ".corrupt"))
  end)
end)

describe("pidfd.start_time", function()
  it("is field 22 of /proc/PID/stat (starttime), which never changes", function()
    local me = math.tointeger(uv.os_getpid())
    local stat = assert(fs.read("/proc/" .. me .. "/stat"))
    local fields = {}
    for word in stat:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = word end
    -- fields[1] is field 3 (the state)
    assert.equal(tonumber(fields[20]), pidfd.start_time(me))
  end)
end)
