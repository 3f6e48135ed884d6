-- The manager's parts that need no daemon: configuration, state.json,
-- authentication, the checks on a new sandbox, tmux escaping, processes.
local async = require "sbx.async"
local auth_module = require "sbx.manager.auth"
local cjson = require "cjson"
local config = require "sbx.manager.config"
local Fleet = require "sbx.manager.fleet"
local fs = require "sbx.fs"
local pidfd = require "sbx.pidfd"
local process = require "sbx.manager.process"
local state = require "sbx.manager.state"
local tmux = require "sbx.manager.tmux"
local uv = require "luv"
local validate = require "sbx.manager.validate"

local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

local function env_of(values) return function(name) return values[name] end end

describe("manager config", function()
  it("defaults to 127.0.0.1:3000 with a token", function()
    local c = assert(config.load(env_of {}))
    assert.equal("127.0.0.1", c.host)
    assert.equal(3000, c.port)
    assert.equal("token", c.auth)
    assert.equal(1024 * 1024, c.max_body)
    assert.equal(5000, c.monitor_ms)
  end)

  it("reads MANAGER_* and lets options override", function()
    local c = assert(config.load(env_of { MANAGER_LISTEN = "[::1]:8080", MANAGER_STATE_DIR = "/srv/m/",
      MANAGER_AUTH = "none", MANAGER_SOCKET = "/run/m.sock", MANAGER_MAX_BODY = "100" }, { listen = "0.0.0.0:0" }))
    assert.equal("0.0.0.0", c.host)
    assert.equal(0, c.port)
    assert.equal("/srv/m", c.state_dir)
    assert.equal("/srv/m/tmux.sock", c.tmux_socket)
    assert.equal("none", c.auth)
    assert.equal(100, c.max_body)
  end)

  it("refuses what it cannot use, saying which variable", function()
    local cases = {
      { MANAGER_LISTEN = "3000" }, { MANAGER_LISTEN = "example.org:80" }, { MANAGER_LISTEN = "1.2.3.4:70000" },
      { MANAGER_AUTH = "off" }, { MANAGER_STATE_DIR = "relative" }, { MANAGER_SOCKET = "x.sock" },
      { MANAGER_MAX_BODY = "lots" }, { MANAGER_MONITOR_INTERVAL = "5" },
    }
    for _, env in ipairs(cases) do
      local name = next(env)
      local c, err = config.load(env_of(env))
      assert.is_nil(c, name)
      assert.truthy(err:find(name, 1, true), err)
    end
  end)

  it("builds the base URL from the bound port", function()
    local c = assert(config.load(env_of { MANAGER_LISTEN = "0.0.0.0:0" }))
    assert.equal("http://127.0.0.1:4242", config.base_url(c, 4242))
    c.public_url = "https://sbx.example.org/"
    assert.equal("https://sbx.example.org", config.base_url(c, 4242))
  end)
end)

local function record(id, fields)
  local r = { id = id, name = "n", backend = "bubblewrap", project_dir = "/p", status = "running",
    tmux_session = "sandbox-x", network = "private", created_at = "2025-01-01T00:00:00.000Z", home = "/root" }
  for k, v in pairs(fields or {}) do r[k] = v end
  return r
end

describe("state.json", function()
  it("round-trips records, in a stable form", function()
    local sandboxes = { b = record("b", { display_num = 50, pid_xvfb = 7, xvfb_start_time = 99 }), a = record("a") }
    local text = state.encode(sandboxes)
    assert.equal(text, state.encode(assert(state.decode(text))))
    assert.same(sandboxes, state.decode(text))
    assert.equal("integer", math.type(state.decode(text).b.pid_xvfb))
    assert.truthy(text:find('"a"', 1, true) < text:find('"b"', 1, true))
  end)

  it("is written only when it changed, and each change is a new generation", function()
    local dir = scratch.dir()
    local fleet = Fleet.new { state_dir = dir, tmux_socket = dir .. "/tmux.sock" }
    fleet.records.a = record("a")
    fleet:save()
    local generation = fleet.generation
    local before = uv.fs_stat(state.path(dir))
    async.run(function() async.sleep(20) end)
    fleet:save()
    local after = uv.fs_stat(state.path(dir))
    assert.same({ before.ino, before.mtime }, { after.ino, after.mtime })
    assert.equal(generation, fleet.generation)
    fleet.records.a.status = "dead"
    fleet:save()
    assert.equal(generation + 1, fleet.generation)
    assert.equal("dead", state.load(dir).a.status)
  end)

  it("moves a corrupt file aside, loudly, and starts empty", function()
    for _, bad in ipairs {
      "{not json", "[]", '{"version": 1, "sandboxes": [1]}', '{"version": 2, "sandboxes": {}}',
      '{"version": 1, "sandboxes": {"a": {"id": "a"}}}',
      cjson.encode { version = 1, sandboxes = { a = record("b") } },
      cjson.encode { version = 1, sandboxes = { a = record("a", { status = "zombie" }) } },
    } do
      local dir = scratch.dir()
      assert(fs.write_atomic(state.path(dir), bad))
      local sandboxes, aside = state.load(dir)
      assert.same({}, sandboxes)
      assert.truthy(aside and aside:find("state.json.corrupt-", 1, true), bad)
      assert.equal(bad, fs.read(aside))
      assert.is_nil(uv.fs_stat(state.path(dir)))
    end
  end)

  it("is empty when there is no file yet", function()
    assert.same({}, (state.load(scratch.dir())))
  end)
end)

describe("manager auth", function()
  it("makes a 0600 token once, then reads the same one", function()
    local path = scratch.dir() .. "/token"
    local token, made = auth_module.load_token(path)
    assert.is_true(made)
    assert.equal(64, #token)
    assert.equal(tonumber("600", 8), uv.fs_stat(path).mode & tonumber("777", 8))
    assert.equal(token, (auth_module.load_token(path)))
  end)

  it("makes a token file that others could read private again", function()
    local path = scratch.dir() .. "/token"
    local token = auth_module.load_token(path)
    uv.fs_chmod(path, tonumber("644", 8))
    assert.equal(token, (auth_module.load_token(path)))
    assert.equal(tonumber("600", 8), uv.fs_stat(path).mode & tonumber("777", 8))
  end)

  it("refuses a token file without a token", function()
    local path = scratch.dir() .. "/token"
    assert(fs.write_atomic(path, "short\n"))
    local token, err = auth_module.load_token(path)
    assert.is_nil(token)
    assert.truthy(err:find("does not hold a token", 1, true))
  end)

  local auth = auth_module.new { mode = "token", token = string.rep("ab", 32), origins = { "https://proxy.example" } }

  it("accepts the bearer token and nothing like it", function()
    assert.equal("token", auth:authenticate { headers = { authorization = "Bearer " .. string.rep("ab", 32) } })
    assert.is_nil(auth:authenticate { headers = { authorization = "Bearer " .. string.rep("ab", 31) .. "ac" } })
    assert.is_nil(auth:authenticate { headers = { authorization = "Basic " .. string.rep("ab", 32) } })
    assert.is_nil(auth:authenticate { headers = {} })
    assert.equal("unix", auth:authenticate { headers = {}, transport = "unix" })
  end)

  it("spends a login code once for a session cookie", function()
    local code = auth:new_login_code()
    local session = assert(auth:login(code))
    assert.is_nil(auth:login(code))
    assert.is_nil(auth:login("not-a-code"))
    assert.equal("cookie", auth:authenticate { headers = {}, cookies = { sbx_session = session } })
    assert.is_nil(auth:authenticate { headers = {}, cookies = { sbx_session = "forged" } })
    local cookie = auth_module.session_cookie(session)
    assert.truthy(cookie:find("HttpOnly", 1, true))
    assert.truthy(cookie:find("SameSite=Strict", 1, true))
  end)

  it("keeps browser sessions across a restart", function()
    local dir = scratch.dir()
    local first = auth_module.new { mode = "token", token = "t", state_dir = dir }
    local session = first:login(first:new_login_code())
    local second = auth_module.new { mode = "token", token = "t", state_dir = dir }
    assert.equal("cookie", second:authenticate { headers = {}, cookies = { sbx_session = session } })
    assert.equal(tonumber("600", 8), uv.fs_stat(dir .. "/sessions.json").mode & tonumber("777", 8))
  end)

  it("allows its own origin, listed ones and none, refusing others", function()
    local h = { host = "127.0.0.1:3000" }
    local function check(origin, how)
      return auth:check_origin { headers = { host = h.host, origin = origin }, auth = how or "token" }
    end
    assert.is_true(check(nil))
    assert.is_true(check("http://127.0.0.1:3000"))
    assert.is_true(check("https://proxy.example"))
    assert.is_nil(check("http://evil.example"))
    assert.is_nil(check("null"))
    assert.is_nil(check("http://127.0.0.1:3001"))
    assert.is_nil(check(nil, "cookie"))
  end)

  it("without authentication, accepts only address or listed Host names", function()
    local open = auth_module.new { mode = "none", hosts = { "sbx.lan" } }
    assert.equal("none", open:authenticate { headers = {} })
    for _, host in ipairs { "127.0.0.1:3000", "localhost:3000", "[::1]:3000", "sbx.lan:3000" } do
      assert.is_true(open:check_host { headers = { host = host } }, host)
    end
    assert.is_nil(open:check_host { headers = { host = "attacker.example:3000" } })
    assert.is_true(auth:check_host { headers = { host = "attacker.example:3000" } })
  end)
end)

describe("a new sandbox's fields", function()
  local project = scratch.dir()
  local file = project .. "/file"
  assert(fs.write_atomic(file, "x"))

  local function check(fields) return validate.check(fields, "private") end

  it("are accepted when right, the project resolved and the network defaulted", function()
    local ok = assert(check { name = "n", backend = "vm", project_dir = project .. "/." })
    assert.equal(uv.fs_realpath(project), ok.project_dir)
    assert.equal("private", ok.network)
    assert.equal("none", check({ name = "n", backend = "vm", project_dir = project, network = false }).network)
    assert.equal("private", check({ name = "n", backend = "vm", project_dir = project, network = true }).network)
    assert.equal("host", check({ name = "n", backend = "vm", project_dir = project, network = "host" }).network)
  end)

  it("are refused with the field to blame", function()
    local cases = {
      { { backend = "vm", project_dir = project }, "name" },
      { { name = "", backend = "vm", project_dir = project }, "name" },
      { { name = ("x"):rep(201), backend = "vm", project_dir = project }, "name" },
      { { name = "a\nb", backend = "vm", project_dir = project }, "name" },
      { { name = 7, backend = "vm", project_dir = project }, "name" },
      { { name = "n", backend = "docker", project_dir = project }, "backend" },
      { { name = "n", project_dir = project }, "backend" },
      { { name = "n", backend = "vm" }, "project_dir" },
      { { name = "n", backend = "vm", project_dir = "relative/dir" }, "project_dir" },
      { { name = "n", backend = "vm", project_dir = project .. "/missing" }, "project_dir" },
      { { name = "n", backend = "vm", project_dir = file }, "project_dir" },
      { { name = "n", backend = "vm", project_dir = "/" }, "project_dir" },
      { { name = "n", backend = "vm", project_dir = "/tmp/.." }, "project_dir" },
      { { name = "n", backend = "vm", project_dir = os.getenv("HOME") }, "project_dir" },
      { { name = "n", backend = "vm", project_dir = { "/tmp" } }, "project_dir" },
      { { name = "n", backend = "vm", project_dir = project, network = "wide" }, "network" },
      { { name = "n", backend = "vm", project_dir = project, network = 1 }, "network" },
    }
    for i, case in ipairs(cases) do
      local ok, message, field = check(case[1])
      assert.is_nil(ok, i)
      assert.equal(case[2], field, i .. ": " .. tostring(message))
      assert.equal("string", type(message))
    end
  end)
end)

describe("tmux arguments", function()
  it("escape a trailing ';', which tmux reads as a command separator", function()
    assert.equal("a\\;", tmux.escape_argument("a;"))
    assert.equal("a;b", tmux.escape_argument("a;b"))
    assert.equal("plain", tmux.escape_argument("plain"))
  end)
end)

describe("processes by identity", function()
  it("find a tree and end it, not touching a reused identity", function()
    async.run(function()
      local handle, pid
      handle, pid = uv.spawn("sh", { args = { "-c", "sleep 30 & sleep 30; wait" } }, function()
        handle:close()
      end)
      async.sleep(100)
      local tree = process.tree(pid)
      -- Should the test fail, nothing of the tree is left (by identity:
      -- once ended, a pid may name another process).
      finally(function()
        for _, id in ipairs(tree) do pidfd.signal(id.pid, id.start_time, "kill") end
      end)
      assert.equal(3, #tree)
      -- A wrong start time names another process: there is nothing of it
      -- to end, and the process with that pid is left alone.
      assert.is_true(process.terminate({ { pid = pid, start_time = tree[1].start_time + 1 } }, 100))
      assert.is_true(process.alive(pid, tree[1].start_time))
      assert.is_true(process.terminate(tree, 2000))
      for _, id in ipairs(tree) do assert.is_false(process.alive(id.pid, id.start_time)) end
    end)
  end)

  it("find a process by one of its arguments, exactly", function()
    async.run(function()
      local marker = "/tmp/sbx-spec-marker-" .. uv.os_getpid() .. "/"
      local handle, pid
      -- The shell (it holds the marker) takes its sleep with it when it
      -- is ended, here or, should the test fail, by finally.
      handle, pid = uv.spawn("sh", { args = { "-c", "trap 'kill $!' TERM; sleep 30 & wait", marker } },
        function() handle:close() end)
      local shell = process.identify(pid)
      finally(function() pidfd.signal(shell.pid, shell.start_time, "term") end)
      async.sleep(50)
      local found = process.with_argument(marker)
      assert.equal(1, #found)
      assert.equal(pid, found[1].pid)
      assert.same({}, process.with_argument(marker:sub(1, -2)))
      assert.is_true(process.terminate(found, 2000))
    end)
  end)
end)

describe("a free X display", function()
  local display = require "sbx.manager.display"

  -- A display number nothing uses now, high enough to leave others alone.
  local function unused()
    for n = 900 + uv.os_getpid() % 50, 999 do
      if async.run(display.is_free, n) then return n end
    end
  end

  -- Runs python3 CODE (with N) in the background until the test ends.
  local function hold(code, n)
    local handle, pid
    handle, pid = uv.spawn("python3", { args = { "-c", code:format(n) } }, function() handle:close() end)
    async.run(function() async.sleep(300) end)
    return function()
      uv.kill(pid, "sigkill")
      async.run(function() async.sleep(50) end)
    end
  end

  local listeners = {
    { "an abstract socket", "abstract", "import socket,time; s=socket.socket(socket.AF_UNIX); "
      .. "s.bind('\\0/tmp/.X11-unix/X%d'); s.listen(); time.sleep(30)" },
    { "TCP 6000+n", "TCP", "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
      .. "socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 6000 + %d)); s.listen(); time.sleep(30)" },
  }
  for _, case in ipairs(listeners) do
    it("is refused when only " .. case[1] .. " listens on it", function()
      local n = assert(unused())
      local release = hold(case[3], n)
      local free, why = async.run(display.is_free, n)
      release()
      assert.is_false(free)
      assert.truthy(why:find(case[2], 1, true))
    end)
  end

  it("is free despite a stale lock file of a dead process", function()
    local n = assert(unused())
    local path = ("/tmp/.X%d-lock"):format(n)
    assert(fs.write_atomic(path, "  999999999\n", tonumber("644", 8)))
    local free = async.run(display.is_free, n)
    os.remove(path)
    assert.is_true(free)
  end)
end)
