-- The container backend's plan and its translation into a systemd-nspawn
-- command line, as pure functions: made-up hosts and host paths in.
local backend = require "backends.container"
local nspawn = require "sbx.container.nspawn"
local spec = require "sbx.spec"
local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

local HOME = "/root"
local STATE = HOME .. "/.local/state/sbx/projects/proj-0123456789ab"
local LAUNCH = STATE .. "/containers/4242.99"
local PASSWD = "me:x:1000:1000::/root:/bin/bash\n"

local fake = dofile("tests/lua/support/fake_run.lua")

local function fake_host(changes)
  return fake.host_with({
    uid = 0, gid = 0, user = "root", home = HOME,
    env = { HOME = HOME, TERM = "screen", GH_TOKEN = "ghp_secret", ANTHROPIC_API_KEY = "sk-test", DISPLAY = ":7" },
  }, changes)
end

local function fake_request(changes)
  local request = fake.fake_request {
    project = { path = "/srv/proj", name = "proj", id = "proj-0123456789ab", state = STATE }, gh_token = true }
  for k, v in pairs(changes or {}) do request[k] = v end
  return request
end

-- Every host path exists as a directory, but files the plan names as files.
local function fake_kind(missing, links)
  return function(path, follow)
    if missing and missing[path] then return nil end
    if links and links[path] and not follow then return "link" end
    if path:match("%.json$") or path:match("/X%d+$") or path:match("/%.gitconfig$") then return "file" end
    return "directory"
  end
end

local function context(changes)
  local c = {
    nspawn = "/usr/bin/systemd-nspawn", machine = "sbx-proj-4242-99", root = LAUNCH .. "/root",
    files = LAUNCH .. "/files", sbx = "/usr/local/bin/sbx", kind = fake_kind(),
  }
  for k, v in pairs(changes or {}) do c[k] = v end
  return c
end

local function plan_for(request_changes, host_changes)
  return backend.plan(fake_request(request_changes), spec.default(), fake_host(host_changes))
end

local function translate(plan, context_changes)
  local result, err = nspawn.translate(plan, context(context_changes))
  assert(result, err)
  return result
end

-- The root directory's entry at PATH, if the translation makes one.
local function entry_at(result, path)
  for _, entry in ipairs(result.skeleton) do
    if entry.path == path then return entry end
  end
end

local function has(list, value)
  for _, item in ipairs(list) do
    if item == value then return true end
  end
  return false
end

local function with_prefix(list, prefix)
  local found = {}
  for _, item in ipairs(list) do
    if item:sub(1, #prefix) == prefix then found[#found + 1] = item end
  end
  return found
end

-- A small hand-made plan around MOUNTS.
local function small_plan(mounts, changes)
  local plan = {
    backend = "container", namespaces = { "user", "mount", "pid", "ipc", "uts", "cgroup" },
    uid_map = { inside = 1000, outside = 0 }, gid_map = { inside = 1000, outside = 0 },
    hostname = "sbx-proj", mounts = mounts, env = { "HOME=/root" }, cwd = "/srv/proj",
    argv = { "bash" }, seccomp = { ioctls = { "TIOCSTI" }, syscalls = { "keyctl" } },
    limits = { core = 0 }, terminal = "stdio", lifetime = "entry", die_with_parent = true,
    network = "host",
  }
  for k, v in pairs(changes or {}) do plan[k] = v end
  return plan
end

describe("the container plan", function()
  it("is the shared layout's, named for this backend", function()
    local plan = plan_for()
    assert.equal("container", plan.backend)
    assert.is_true(has(plan.env, "CLAUDE_SANDBOX_BACKEND=container"))
    assert.same({ inside = 1000, outside = 0 }, plan.uid_map)
  end)

  it("starts a new tmux session detached, and attaches when joining", function()
    local argv = plan_for({ tmux = true, shell = true }).argv
    assert.same({ "tmux", "-S", "/run/sbx/tmux/socket", "-f", "/run/sbx/tmux.conf", "new-session", "-d",
      "-s", "sandbox", "-n", "proj", "--", "bash" }, argv)
    local joined = plan_for({ tmux = true, shell = true, join = true })
    assert.same({ "tmux", "-S", "/run/sbx/tmux/socket", "attach-session", "-t", "sandbox" }, joined.argv)
    assert.equal("all", plan_for({ tmux = true }).lifetime)
    assert.is_false(plan_for({ tmux = true }).die_with_parent)
  end)
end)

describe("the nspawn command line", function()
  it("runs nspawn without systemd as PID 1, read-only, in its own user namespace", function()
    local argv = translate(plan_for()).argv
    assert.equal("/usr/bin/systemd-nspawn", argv[1])
    for _, arg in ipairs { "--keep-unit", "--register=no", "--read-only", "--private-users=pick",
      "--private-users-ownership=map", "--no-new-privileges=yes", "--machine=sbx-proj-4242-99",
      "--directory=" .. LAUNCH .. "/root", "--hostname=sbx-proj", "--resolv-conf=off", "--timezone=off" } do
      assert.is_true(has(argv, arg), arg)
    end
  end)

  it("drops every capability but the one the init needs to map its uid", function()
    local argv = translate(plan_for()).argv
    local dropped = with_prefix(argv, "--drop-capability=")
    assert.equal(1, #dropped)
    local names = {}
    for name in dropped[1]:sub(#"--drop-capability=" + 1):gmatch("[^,]+") do names[name] = true end
    for _, name in ipairs { "cap_sys_admin", "cap_net_admin", "cap_setuid", "cap_sys_ptrace", "cap_mknod",
      "cap_dac_override", "cap_bpf" } do
      assert.is_true(names[name], name)
    end
    assert.is_nil(names.cap_setfcap)
    assert.same({}, with_prefix(argv, "--capability="))
  end)

  it("asks for a network namespace unless the network is the host's", function()
    assert.is_true(has(translate(plan_for({ network = "private" })).argv, "--private-network"))
    assert.is_true(has(translate(plan_for({ network = "none" })).argv, "--private-network"))
    assert.is_false(has(translate(plan_for({ network = "host" })).argv, "--private-network"))
  end)

  it("denies the plan's system calls in nspawn's filter and leaves the ioctls to the init", function()
    local plan = plan_for()
    local result = translate(plan)
    local filter = with_prefix(result.argv, "--system-call-filter=~")
    assert.equal(1, #filter)
    local denied = {}
    for name in filter[1]:sub(#"--system-call-filter=~" + 1):gmatch("%S+") do denied[name] = true end
    for _, name in ipairs(plan.seccomp.syscalls) do assert.is_true(denied[name], name) end
    assert.same(plan.seccomp, result.init.seccomp)
    assert.is_true(has(result.init.seccomp.ioctls, "TIOCSTI"))
    assert.is_true(has(result.init.seccomp.ioctls, "TIOCLINUX"))
  end)

  it("never puts the environment on the command line, which every host user can read", function()
    local result = translate(plan_for())
    for _, arg in ipairs(result.argv) do
      assert.is_nil(arg:find("ghp_secret", 1, true), arg)
      assert.is_nil(arg:find("sk-test", 1, true), arg)
      assert.is_nil(arg:match("^%-%-setenv"), arg)
      assert.is_nil(arg:match("^%-E"), arg)
    end
    assert.is_true(has(result.init.env, "GH_TOKEN=ghp_secret"))
  end)

  it("hands the init the process part of the plan, and runs sbx container-init on it", function()
    local plan = plan_for()
    local result = translate(plan)
    for _, key in ipairs { "env", "cwd", "argv", "seccomp", "limits", "terminal", "lifetime", "uid_map", "gid_map" } do
      assert.same(plan[key], result.init[key], key)
    end
    assert.is_nil(result.init.mounts)
    assert.equal(LAUNCH .. "/files/init.json", result.init_file)
    local n = #result.argv
    assert.same({ "--", "/run/sbx/init/sbx", "container-init", "/run/sbx/init/plan.json" },
      { table.unpack(result.argv, n - 3, n) })
    assert.is_true(has(result.argv, "--bind-ro=/usr/local/bin/sbx:/run/sbx/init/sbx:rbind,noidmap"))
    assert.is_true(has(result.argv, "--bind-ro=" .. LAUNCH .. "/files/init.json:/run/sbx/init/plan.json:rbind,idmap"))
  end)

  it("relays a terminal, but not for a sandbox that goes on without its caller", function()
    assert.is_true(has(translate(plan_for({ terminal = "pty" })).argv, "--console=interactive"))
    assert.is_true(has(translate(plan_for({ terminal = "stdio" })).argv, "--console=pipe"))
    assert.is_true(has(translate(plan_for({ terminal = "pty", tmux = true })).argv, "--console=pipe"))
  end)
end)

describe("the plan's mounts under nspawn", function()
  it("binds read-only and read-write, ID-mapped so that files keep their host owners", function()
    local argv = translate(plan_for()).argv
    assert.is_true(has(argv, "--bind-ro=/usr:/usr:rbind,idmap"))
    assert.is_true(has(argv, "--bind=/srv/proj:/srv/proj:rbind,idmap"))
    assert.is_true(has(argv, "--bind=" .. HOME .. "/.claude:" .. HOME .. "/.claude:rbind,idmap"))
    assert.is_true(has(argv, "--bind-ro=" .. HOME .. "/.claude/settings.json:" .. HOME
      .. "/.claude/settings.json:rbind,idmap"))
    assert.is_true(has(argv, "--bind=" .. STATE .. "/chromium:" .. HOME .. "/.config/chromium:rbind,idmap"))
  end)

  it("keeps the plan's order, so that read-only parts come after what they cover", function()
    local argv = translate(plan_for()).argv
    local position = {}
    for i, arg in ipairs(argv) do position[arg] = i end
    local claude = position["--bind=" .. HOME .. "/.claude:" .. HOME .. "/.claude:rbind,idmap"]
    local settings = position["--bind-ro=" .. HOME .. "/.claude/settings.json:" .. HOME
      .. "/.claude/settings.json:rbind,idmap"]
    local home = position["--tmpfs=" .. HOME .. ":mode=0700"]
    assert.is_truthy(claude and settings and home)
    assert.is_true(home < claude and claude < settings)
  end)

  it("escapes colons and backslashes in paths", function()
    assert.equal("/a\\:b\\\\c", nspawn.escape("/a:b\\c"))
    local argv = translate(small_plan { { op = "bind", source = "/srv/a:b", dest = "/srv/a:b" } }).argv
    assert.is_true(has(argv, "--bind=/srv/a\\:b:/srv/a\\:b:rbind,idmap"))
  end)

  it("skips a missing source marked try, and refuses any other", function()
    local mounts = { { op = "bind", source = "/gone", dest = "/gone", try = true, readonly = true } }
    local result = translate(small_plan(mounts), { kind = fake_kind { ["/gone"] = true } })
    assert.same({}, with_prefix(result.argv, "--bind-ro=/gone"))
    mounts[1].try = nil
    local ok, err = nspawn.translate(small_plan(mounts), context { kind = fake_kind { ["/gone"] = true } })
    assert.is_nil(ok)
    assert.matches("/gone does not exist", err, 1, true)
  end)

  it("refuses a source that is, or passes through, a link where the plan follows none", function()
    local mounts = { { op = "bind", source = "/srv/proj/x", dest = "/x" } }
    local ok, err = nspawn.translate(small_plan(mounts), context { kind = fake_kind(nil, { ["/srv/proj/x"] = true }) })
    assert.is_nil(ok)
    assert.matches("symbolic link", err, 1, true)
    mounts[1].follow_symlinks = true
    local followed = nspawn.translate(small_plan(mounts), context { kind = fake_kind(nil, { ["/srv/proj/x"] = true }) })
    assert.is_truthy(followed)
  end)

  it("binds devices without an ID map", function()
    local argv = translate(small_plan { { op = "dev-bind", source = "/dev/dri", dest = "/dev/dri", try = true } }).argv
    assert.is_true(has(argv, "--bind=/dev/dri:/dev/dri:rbind,noidmap"))
  end)

  it("leaves /proc, /dev and /run to nspawn, and mounts the other tmpfs with their modes", function()
    local result = translate(small_plan {
      { op = "proc", dest = "/proc" }, { op = "dev", dest = "/dev" },
      { op = "tmpfs", dest = "/run", mode = "0755" }, { op = "tmpfs", dest = "/tmp", mode = "1777", size = "50%" },
    })
    assert.same({ "--tmpfs=/tmp:mode=1777,size=50%" }, with_prefix(result.argv, "--tmpfs="))
  end)

  it("makes mount points in the root, and none inside a tmpfs or nspawn's own file systems", function()
    local result = translate(small_plan {
      { op = "bind", source = "/usr", dest = "/usr", readonly = true },
      { op = "bind", source = "/etc/ssl", dest = "/etc/ssl", readonly = true },
      { op = "file", dest = "/etc/passwd", contents = PASSWD, mode = "0644", readonly = true },
      { op = "tmpfs", dest = "/home", mode = "0755" },
      { op = "bind", source = "/srv/data", dest = "/home/data" },
      { op = "dev-bind", source = "/dev/dri", dest = "/dev/dri" },
    })
    local function made(path) return (entry_at(result, path) or {}).kind end
    assert.equal("directory", made("/usr"))
    assert.equal("directory", made("/etc"))
    assert.equal("directory", made("/etc/ssl"))
    assert.equal("file", made("/etc/passwd"))
    assert.equal("directory", made("/home"))
    assert.is_nil(made("/home/data"))
    assert.is_nil(made("/dev/dri"))
    for _, dir in ipairs(nspawn.root_dirs) do assert.equal("directory", made(dir), dir) end
  end)

  it("makes the directories on the way to a mount in a tmpfs tmpfs mounts, writable inside", function()
    local argv = translate(small_plan {
      { op = "tmpfs", dest = "/home", mode = "0755" },
      { op = "tmpfs", dest = "/home/me", mode = "0700" },
      { op = "bind", source = "/srv/chromium", dest = "/home/me/.config/chromium" },
      { op = "bind", source = "/srv/bin", dest = "/home/me/.local/bin" },
      { op = "bind", source = "/srv/share", dest = "/home/me/.local/share" },
      { op = "tmpfs", dest = "/run", mode = "0755" },
      { op = "bind", source = "/srv/tmux", dest = "/run/sbx/tmux" },
    }).argv
    assert.same({ "--tmpfs=/home:mode=0755", "--tmpfs=/home/me:mode=0700", "--tmpfs=/home/me/.config:mode=0755",
      "--tmpfs=/home/me/.local:mode=0755", "--tmpfs=/run/sbx:mode=0755" }, with_prefix(argv, "--tmpfs="))
  end)

  it("makes a directory in a tmpfs a tmpfs, and one in the root a directory", function()
    local result = translate(small_plan {
      { op = "tmpfs", dest = "/run", mode = "0755" },
      { op = "dir", dest = "/run/user/1000", mode = "0700" },
      { op = "dir", dest = "/opt/empty", mode = "0750" },
    })
    assert.same({ "--tmpfs=/run/user:mode=0755", "--tmpfs=/run/user/1000:mode=0700" },
      with_prefix(result.argv, "--tmpfs="))
    assert.same({ path = "/opt/empty", kind = "directory", mode = "0750" }, entry_at(result, "/opt/empty"))
  end)

  it("writes the plan's files beside the root and binds them, read-only as the plan says", function()
    local result = translate(small_plan {
      { op = "file", dest = "/etc/passwd", contents = PASSWD, mode = "0644", readonly = true },
      { op = "tmpfs", dest = "/root", mode = "0700" },
      { op = "file", dest = "/root/.claude.json", contents = "{}", mode = "0600" },
    })
    assert.same({
      { path = LAUNCH .. "/files/1", contents = PASSWD, mode = "0644" },
      { path = LAUNCH .. "/files/3", contents = "{}", mode = "0600" },
    }, result.files)
    assert.is_true(has(result.argv, "--bind-ro=" .. LAUNCH .. "/files/1:/etc/passwd:rbind,idmap"))
    assert.is_true(has(result.argv, "--bind=" .. LAUNCH .. "/files/3:/root/.claude.json:rbind,idmap"))
  end)

  it("makes links in the root, and refuses one in a tmpfs or what nspawn cannot do", function()
    local result = translate(small_plan { { op = "symlink", target = "usr/bin", dest = "/bin" } })
    assert.same({ path = "/bin", kind = "symlink", target = "usr/bin" }, entry_at(result, "/bin"))
    for _, mounts in ipairs {
      { { op = "tmpfs", dest = "/run", mode = "0755" },
        { op = "symlink", target = "/nix/x", dest = "/run/current-system" } },
      { { op = "remount-ro", dest = "/srv" } },
      { { op = "file", dest = "/etc/x", fd = 7 } },
    } do
      local ok, err = nspawn.translate(small_plan(mounts), context())
      assert.is_nil(ok)
      assert.matches("container backend", err, 1, true)
    end
  end)

  it("translates the whole container plan of a host with a display", function()
    local result = translate(plan_for({ tmux = true }, { env = { DISPLAY = ":7", HOME = HOME } }))
    assert.is_true(has(result.argv, "--bind-ro=/tmp/.X11-unix/X7:/tmp/.X11-unix/X7:rbind,idmap"))
  end)
end)

describe("the engine's adopt", function()
  local sandbox = require "sbx.sandbox"

  it("refuses a process that is not the first of its PID namespace", function()
    local ok, err = sandbox.adopt {
      env = {}, cwd = "/", argv = { "true" }, terminal = "stdio",
      uid_map = { inside = 1000, outside = 0 }, gid_map = { inside = 1000, outside = 0 },
      seccomp = { syscalls = {}, ioctls = {} },
    }
    assert.is_nil(ok)
    assert.matches("first process of a PID namespace", err, 1, true)
  end)

  it("needs the ids the sandbox's user takes", function()
    local ok, err = sandbox.adopt {
      env = {}, cwd = "/", argv = { "true" }, terminal = "stdio", seccomp = { syscalls = {}, ioctls = {} },
    }
    assert.is_nil(ok)
    assert.matches("uid_map", err, 1, true)
    ok, err = sandbox.adopt {
      env = {}, cwd = "/", argv = { "true" }, terminal = "stdio", seccomp = { syscalls = {}, ioctls = {} },
      uid_map = { inside = 1000, outside = 0 },
    }
    assert.is_nil(ok)
    assert.matches("go together", err, 1, true)
  end)
end)

describe("sbx container-init", function()
  local cli = require "sbx.cli"

  local function run(argv)
    local err_path = scratch.path("stderr")
    local saved = io.stderr
    io.stderr = io.open(err_path, "w")
    local ok, code = pcall(cli.run_command, "sbx", "container-init", argv)
    io.stderr:close()
    io.stderr = saved
    local file = io.open(err_path)
    local err = file:read("a")
    file:close()
    os.remove(err_path)
    assert(ok, code)
    return code, err
  end

  it("says what is wrong with its plan file, and runs only as a PID namespace's first process", function()
    local code, err = run {}
    assert.equal(2, code)
    assert.matches("expected the plan file", err, 1, true)
    code, err = run { "/nonexistent/plan.json" }
    assert.equal(1, code)
    assert.matches("/nonexistent/plan.json", err, 1, true)
    local path = scratch.path("plan.json")
    for _, text in ipairs { "not json", "[1, 2]", '"a string"' } do
      local file = io.open(path, "w")
      file:write(text)
      file:close()
      code, err = run { path }
      assert.equal(1, code)
      assert.matches("plan", err, 1, true)
    end
    local file = io.open(path, "w")
    file:write(require("cjson").encode {
      env = { "HOME=/" }, cwd = "/", argv = { "true" }, terminal = "stdio", lifetime = "entry",
      seccomp = { syscalls = { "keyctl" }, ioctls = { "TIOCSTI" } }, limits = { core = 0 },
      uid_map = { inside = 1000, outside = 0 }, gid_map = { inside = 1000, outside = 0 },
    })
    file:close()
    code, err = run { path }
    assert.equal(1, code)
    assert.matches("first process of a PID namespace", err, 1, true)
  end)
end)

describe("what the container launcher reads in /proc", function()
  local proc = require "sbx.proc"
  local uv = require "luv"

  it("a process's children and the name each calls itself", function()
    local handle, pid = uv.spawn("sleep", { args = { "30" } }, function() end)
    assert.truthy(handle, pid)
    finally(function()
      uv.kill(pid, "sigkill")
      handle:close()
    end)
    assert.is_true(has(proc.children(uv.os_getpid()), pid), "sleep is among our children")
    assert.equal("sleep", proc.comm(pid))
    assert.is_nil(proc.comm(99999999))
    assert.same({}, proc.children(99999999))
  end)
end)
