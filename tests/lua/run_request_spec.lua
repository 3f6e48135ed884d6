-- sbx run's checks before anything is created: the project directory, the
-- options, the network mode.
local project = require "sbx.run.project"
local requests = require "sbx.run.request"
local args = require "sbx.args"
local spec = require "sbx.spec"
local uv = require "luv"
local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

local saved = {}
local function set_env(name, value)
  if saved[name] == nil then saved[name] = os.getenv(name) or false end
  if value then uv.os_setenv(name, value) else uv.os_unsetenv(name) end
end

describe("sbx run's project checks", function()
  local root
  before_each(function()
    root = scratch.dir()
    assert(uv.fs_mkdir(root .. "/home", 493))
    assert(uv.fs_mkdir(root .. "/home/me", 493))
    assert(uv.fs_mkdir(root .. "/home/me/proj", 493))
    set_env("HOME", root .. "/home/me")
    set_env("XDG_STATE_HOME", false)
    set_env("XDG_CONFIG_HOME", false)
  end)
  after_each(function()
    for name, value in pairs(saved) do set_env(name, value or nil) end
    saved = {}
    scratch.remove(root)
  end)

  it("resolves a project to its real path, a name, an id and a state directory", function()
    assert(uv.fs_symlink(root .. "/home/me/proj", root .. "/link"))
    local found = assert(project.resolve(root .. "/link"))
    assert.equal(root .. "/home/me/proj", found.path)
    assert.equal("proj", found.name)
    assert.truthy(found.id:match("^proj%-%x+$"), found.id)
    assert.equal(root .. "/home/me/.local/state/sbx/projects/" .. found.id, found.state)
    assert.is_nil(uv.fs_stat(root .. "/home/me/.local"), "nothing created")
  end)

  it("gives two directories of the same name different ids", function()
    assert(uv.fs_mkdir(root .. "/proj", 493))
    assert.not_equal(project.resolve(root .. "/proj").id, project.resolve(root .. "/home/me/proj").id)
  end)

  it("keeps names short and tame", function()
    assert.equal("a_b_c", project.name_of("/x/a b;c"))
    assert.equal("_hidden", project.name_of("/x/.hidden"))
    assert.equal(project.max_name_length, #project.name_of("/x/" .. string.rep("n", 100)))
  end)

  local refusals = {
    { "a missing path", function(r) return r .. "/nope" end, "does not exist" },
    { "a file", function(r)
        local f = io.open(r .. "/file", "w"); f:close(); return r .. "/file"
      end, "is not a directory" },
    { "/", function() return "/" end, "refusing to sandbox /" },
    { "$HOME itself", function(r) return r .. "/home/me" end, "your home directory" },
    { "a directory above $HOME", function(r) return r .. "/home" end, "contains your home directory" },
    { "sbx's state directory", function(r)
        os.execute("mkdir -p '" .. r .. "/home/me/.local/state/sbx/projects'")
        return r .. "/home/me/.local/state/sbx/projects"
      end, "inside sbx's own" },
    { "a directory holding sbx's config", function(r)
        os.execute("mkdir -p '" .. r .. "/home/me/.config/sbx'")
        return r .. "/home/me/.config"
      end, "which a sandbox must not write" },
  }
  for _, case in ipairs(refusals) do
    it("refuses " .. case[1], function()
      local found, err = project.resolve(case[2](root))
      assert.is_nil(found)
      assert.truthy(err:find(case[3], 1, true), err)
    end)
  end
end)

describe("sbx run's options", function()
  local defaults = spec.default()
  local function build(argv)
    local values, positional, rest = args.parse(requests.options, argv)
    if not values then return nil, positional, 2 end
    return requests.build(values, positional, rest, defaults)
  end

  it("refuses an unknown flag and an unknown network mode", function()
    local _, err = build { "--frob", "/tmp" }
    assert.truthy(err:find("unknown option '--frob'", 1, true))
    _, err = build { "--network", "wifi", "/tmp" }
    assert.truthy(err:find("must be one of host, private, none", 1, true))
  end)

  it("refuses --new, --enter and --stop together, and --stop with more", function()
    local _, err, code = build { "--new", "--stop", "/tmp" }
    assert.equal(2, code)
    assert.truthy(err:find("cannot be used together", 1, true))
    _, err, code = build { "--stop", "/tmp", "--", "-p", "x" }
    assert.equal(2, code)
    assert.truthy(err:find("--stop takes only", 1, true))
  end)

  it("wants exactly one project directory", function()
    local _, err, code = build {}
    assert.equal(2, code)
    assert.truthy(err:find("expected a project directory", 1, true))
    _, err, code = build { "/tmp", "/usr" }
    assert.equal(2, code)
    assert.truthy(err:find("after --", 1, true))
  end)

  it("offers only backends that exist, each with a plan, a launcher and a way in", function()
    for _, name in ipairs(requests.backends) do
      local backend = requests.backend_module(name)
      assert.is_function(backend.plan, name)
      assert.is_table(require(backend.launcher), name)
      assert.truthy(backend.joined_through == "engine" or backend.joined_through == "vm", name)
    end
    local _, err, code = build { "--backend", "nosuch", "/tmp" }
    assert.equal(2, code)
    assert.truthy(err:find("bubblewrap, container, vm", 1, true), err)
  end)

  it("builds a request, with Claude's arguments after --", function()
    local dir = scratch.dir()
    local request = assert(build { "--tmux", "--no-network", "--gh-token", dir, "--", "-p", "hi" })
    assert.equal(dir, request.project.path)
    assert.is_true(request.tmux)
    assert.is_false(request.shell)
    assert.equal("none", request.network)
    assert.is_true(request.gh_token)
    assert.same({ "-p", "hi" }, request.args)
    assert.equal("run", request.action)
  end)

  it("falls back to host networking without pasta only when private was not asked for", function()
    assert.same({ "host" }, { (requests.network({}, defaults, false)) })
    local mode, warning = requests.network({}, defaults, false)
    assert.equal("host", mode)
    assert.truthy(warning:find("pasta is not installed", 1, true))
    assert.equal("private", requests.network({}, defaults, true))
    local none, err = requests.network({ network = "private" }, defaults, false)
    assert.is_nil(none)
    assert.truthy(err:find("needs pasta", 1, true))
    assert.equal("none", requests.network({ network = "none" }, defaults, false))
  end)
end)

describe("the session bus proxy's socket", function()
  local dbus = require "sbx.run.dbus"
  local project_ = { state = "/home/me/.local/state/sbx/projects/p-0123456789ab" }
  local have_proxy = require("sbx.paths").which("xdg-dbus-proxy") ~= nil

  it("is in the project's state directory when there is a bus to proxy", function()
    if not have_proxy then return pending("xdg-dbus-proxy is not installed") end
    local host = { uid = 1000, env = { DBUS_SESSION_BUS_ADDRESS = "unix:path=/run/user/1000/bus" } }
    assert.equal(project_.state .. "/bus", dbus.socket_for(project_, host))
  end)

  it("is nil without a bus, for root, and for a path too long for a socket", function()
    assert.is_nil(dbus.socket_for(project_, { uid = 1000, env = {} }))
    assert.is_nil(dbus.socket_for(project_, { uid = 0, env = { DBUS_SESSION_BUS_ADDRESS = "unix:path=/x" } }))
    local deep = { state = "/" .. string.rep("d", 120) }
    assert.is_nil(dbus.socket_for(deep, { uid = 1000, env = { DBUS_SESSION_BUS_ADDRESS = "unix:path=/x" } }))
  end)
end)

describe("preparing ~/.claude", function()
  local state = require "sbx.run.state"
  it("makes what the backend binds read-only, and refuses a link there", function()
    local home = scratch.dir()
    assert(state.prepare_claude(home))
    for _, name in ipairs { "settings.json", "settings.local.json", "hooks", "commands", "agents", "CLAUDE.md" } do
      assert.truthy(uv.fs_lstat(home .. "/.claude/" .. name), name)
    end
    assert.equal("{}\n", require("sbx.fs").read(home .. "/.claude/settings.json"))
    os.remove(home .. "/.claude/CLAUDE.md")
    assert(uv.fs_symlink("/etc/hostname", home .. "/.claude/CLAUDE.md"))
    local ok, err = state.prepare_claude(home)
    assert.is_nil(ok)
    assert.truthy(err:find("CLAUDE.md is a symbolic link", 1, true), err)
  end)
end)
