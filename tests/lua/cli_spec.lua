-- The command line: dispatch, usage errors, personalities.
local cli = require "sbx.cli"
local main = require "sbx.main"
local args = require "sbx.args"
local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

-- Runs fn with io.stdout/io.stderr captured; returns result, out, err.
local function captured(fn)
  local out_path, err_path = scratch.path("out"), scratch.path("err")
  local saved_out, saved_err = io.stdout, io.stderr
  io.stdout, io.stderr = io.open(out_path, "w"), io.open(err_path, "w")
  local ok, result = pcall(fn)
  io.stdout:close(); io.stderr:close()
  io.stdout, io.stderr = saved_out, saved_err
  local function slurp(p) local f = io.open(p); local s = f:read("a"); f:close(); os.remove(p); return s end
  local out, err = slurp(out_path), slurp(err_path)
  assert(ok, result)
  return result, out, err
end

describe("sbx command line", function()
  it("exits 2 with the usage for an unknown command", function()
    local code, _, err = captured(function() return cli.run_command("sbx", "nosuchcmd", {}) end)
    assert.equal(2, code)
    assert.truthy(err:find("unknown command 'nosuchcmd'", 1, true))
    assert.truthy(err:find("usage: sbx <command>", 1, true))
  end)

  it("exits 2 with the command's usage for an unknown flag", function()
    local code, _, err = captured(function() return cli.run_command("sbx", "spec", { "--nope" }) end)
    assert.equal(2, code)
    assert.truthy(err:find("unknown option '--nope'", 1, true))
    assert.truthy(err:find("usage: sbx spec", 1, true))
  end)

  it("lists every command in sbx help but the hidden ones, which sbx runs itself", function()
    local text = cli.overview("sbx")
    for _, entry in ipairs(cli.commands) do
      assert.equal(not entry.hidden, text:find("\n  " .. entry[1] .. " ", 1, true) ~= nil, entry[1])
    end
  end)

  it("prints help for every command with its options, and exits 0", function()
    for _, entry in ipairs(cli.commands) do
      local code, out = captured(function() return cli.run_command("sbx", entry[1], { "--help" }) end)
      assert.equal(0, code)
      assert.truthy(out:find("usage: sbx " .. entry[1], 1, true))
      for _, option in ipairs(cli.find(entry[1]).options) do
        assert.truthy(out:find(option.name, 1, true), entry[1] .. " help lists " .. option.name)
      end
    end
  end)

  it("maps the Nix original's command names onto sbx commands", function()
    local program, command, words = main.resolve("/usr/bin/claude-sandbox-vm", { "/tmp/p" })
    assert.equal("claude-sandbox-vm", program)
    assert.equal("run", command)
    assert.same({ "--backend", "vm", "/tmp/p" }, words)
    assert.same({ "remote", {} }, { select(2, main.resolve("claude-remote", {})) })
  end)
end)

describe("option parsing", function()
  local options = {
    { name = "--backend", value = "NAME", choices = { "a", "b" } },
    { name = "--no-network", sets = { network = "none" } },
    { name = "--json" },
  }

  it("takes values inline and separate, flags, aliases and the rest after --", function()
    local values, positional, rest = args.parse(options,
      { "--backend=a", "dir", "--no-network", "--json", "--", "--x", "y" })
    assert.same({ backend = "a", network = "none", json = true }, values)
    assert.same({ "dir" }, positional)
    assert.same({ "--x", "y" }, rest)
  end)

  it("refuses unknown options, bad choices, missing and unwanted values", function()
    assert.is_nil((args.parse(options, { "--what" })))
    assert.truthy(select(2, args.parse(options, { "--backend", "c" })):find("must be one of a, b", 1, true))
    assert.truthy(select(2, args.parse(options, { "--backend" })):find("needs a value", 1, true))
    assert.truthy(select(2, args.parse(options, { "--json=1" })):find("takes no value", 1, true))
  end)
end)
