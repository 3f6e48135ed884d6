-- The spec and the user's config over it.
local spec = require "sbx.spec"
local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

local function config_file(text)
  local path = scratch.path("config.lua")
  local file = assert(io.open(path, "w"))
  file:write(text)
  file:close()
  return path
end

describe("the sandbox spec", function()
  it("has what the backends rely on", function()
    local default = spec.default()
    assert.truthy(#default.etc > 0)
    assert.truthy(#default.env.allow > 0)
    assert.same({ "GH_TOKEN", "GITHUB_TOKEN" }, default.env.tokens)
    assert.equal("string", type(default.notice))
    assert.equal(32, #default.chromium.extensions[1])
  end)

  it("keeps the vm backend's numbers whole and within bounds, and its accel one of three", function()
    for text, expected in pairs {
      ["spec.vm.memory_mb = 64"] = "vm.memory_mb must be a whole number from 256",
      ["spec.vm.cpus = 1.5"] = "vm.cpus must be a whole number from 1 to 64, not 1.5",
      ["spec.vm.accel = 'xen'"] = "vm.accel must be one of auto, kvm, tcg",
    } do
      local path = config_file(text)
      local resolved, err = spec.load(path)
      os.remove(path)
      assert.is_nil(resolved)
      assert.matches(expected, err, 1, true)
    end
    local path = config_file("spec.vm.memory_mb = 4096\nspec.vm.accel = 'tcg'\n")
    local resolved = assert(spec.load(path))
    os.remove(path)
    assert.equal(4096, resolved.vm.memory_mb)
  end)

  it("is the default when there is no config", function()
    local resolved = assert(spec.load("/nonexistent/config.lua"))
    assert.same(spec.default(), resolved)
  end)

  it("applies in-place changes and returned tables", function()
    local path = config_file([[
spec.defaults.network = "host"
table.insert(spec.etc, "/etc/gai.conf")
sbx.edit_plan(function(plan) return plan end)
return { chromium = { policy = { HomepageLocation = "about:blank" } } }
]])
    local resolved, hooks = spec.load(path)
    os.remove(path)
    assert.truthy(resolved, hooks)
    assert.equal("host", resolved.defaults.network)
    assert.equal("/etc/gai.conf", resolved.etc[#resolved.etc])
    assert.equal("about:blank", resolved.chromium.policy.HomepageLocation)
    assert.equal(1, #hooks.plan_editors)
  end)

  local broken = {
    { "a syntax error", "spec.defaults.network = = 1\n", ":1:" },
    { "a runtime error", "\nlocal x = nil\nx.y = 1\n", ":3:" },
    { "a wrong type", "\n\nspec.defaults.network = 5\n", ":3: defaults.network must be a string, not a number" },
    { "a bad choice", "spec.defaults.backend = 'docker'\n", ":1: defaults.backend must be one of" },
    { "an unknown setting", "spec.defautls = {}\n", ":1: unknown setting 'defautls'" },
    { "a bad list element", "\ntable.insert(spec.etc, '/home/me/.ssh')\n", ":2: etc[" },
    { "a bad returned table", "local t = {}\nreturn { defaults = { network = 'wifi' } }\n",
      ":2: defaults.network must be one of" },
    { "a non-table return", "return 42\n", ":1: the config must return a table" },
  }
  for _, case in ipairs(broken) do
    it("reports " .. case[1] .. " with the file and line", function()
      local path = config_file(case[2])
      local resolved, err = spec.load(path)
      os.remove(path)
      assert.is_nil(resolved)
      assert.truthy(err:find(path .. case[3], 1, true), err)
    end)
  end
end)
