-- What happens to a plan after the backend: the config's editors and the
-- JSON of --dry-run; and the Xauthority rewriting the plan relies on.
local plans = require "sbx.plan"
local xauth = require "sbx.xauth"
local cjson = require "cjson"

describe("plan editors", function()
  it("run in order, in place or by returning a plan", function()
    local plan = { argv = { "claude" } }
    local edited = assert(plans.apply_editors(plan, { network = "host" }, {
      function(p) p.argv[2] = "--verbose" end,
      function(p, request) return { argv = p.argv, network = request.network } end,
    }))
    assert.same({ argv = { "claude", "--verbose" }, network = "host" }, edited)
  end)

  it("report an editor's error and a wrong return value", function()
    local plan, err = plans.apply_editors({}, {}, { function() error("oops") end })
    assert.is_nil(plan)
    assert.truthy(err:find("plan editor 1 in your config failed: .*oops"), err)
    plan, err = plans.apply_editors({}, {}, { function() end, function() return "x" end })
    assert.is_nil(plan)
    assert.truthy(err:find("plan editor 2 in your config returned a string", 1, true), err)
  end)
end)

describe("the --dry-run JSON", function()
  it("hides secret values and private file contents, and shows the rest", function()
    local json = plans.to_json {
      env = { "HOME=/home/me", "ANTHROPIC_API_KEY=sk-1", "GH_TOKEN=ghp", "LANG=C" },
      mounts = {
        { op = "file", dest = "/etc/passwd", contents = "me:x:1\n", mode = "0644" },
        { op = "file", dest = "/home/me/.claude.json", contents = '{"oauth": "x"}', mode = "0600" },
        { op = "file", dest = "/home/me/.Xauthority", contents = "\255\255\0\1", mode = "0644" },
      },
    }
    local shown = cjson.decode(json)
    assert.same({ "HOME=/home/me", "ANTHROPIC_API_KEY=(hidden)", "GH_TOKEN=(hidden)", "LANG=C" }, shown.env)
    assert.equal("me:x:1\n", shown.mounts[1].contents)
    assert.equal("(14 bytes, not shown)", shown.mounts[2].contents)
    assert.equal("(4 bytes, not shown)", shown.mounts[3].contents)
    assert.falsy(json:find("sk-1", 1, true))
  end)
end)

describe("Xauthority files", function()
  it("round-trip and stop at a truncated entry", function()
    local entries = {
      { family = 256, address = "host", number = "0", name = "MIT-MAGIC-COOKIE-1", data = "abc" },
      { family = 0, address = "\127\0\0\1", number = "12", name = "XDM", data = "" },
    }
    local encoded = xauth.encode(entries)
    assert.same(entries, xauth.parse(encoded))
    assert.same({ entries[1] }, xauth.parse(encoded:sub(1, -3)))
  end)

  it("give a wildcard entry for the display's number only", function()
    local file = xauth.encode { { family = 256, address = "h", number = "5", name = "N", data = "d5" } }
    assert.is_nil(xauth.wildcard_for(file, ":6"))
    assert.is_nil(xauth.wildcard_for(nil, ":5"))
    assert.same({ { family = 0xffff, address = "", number = "5", name = "N", data = "d5" } },
      xauth.parse(xauth.wildcard_for(file, "unix:5.0")))
    assert.equal("10", xauth.display_number("localhost:10.0"))
    assert.is_nil(xauth.display_number("wayland-0"))
  end)
end)
