-- Templates and the dashboard's views: escaping by default, the pages'
-- parts, and the form's network checkbox.
local template = require "sbx.dashboard.template"
local views = require "sbx.dashboard.views"
local format = require "sbx.dashboard.format"
local async = require "sbx.async"

-- The part of the manager's `app` the views read (docs/web.md).
local function app_with(records)
  return {
    config = { state_dir = "/nonexistent" },
    sandboxes = function() return records end,
    public = function(record)
      return { id = record.id, name = record.name, backend = record.backend,
        project_dir = record.project_dir, status = record.status, network = record.network,
        created_at = record.created_at, display_num = record.display_num,
        tmux_session = record.tmux_session }
    end,
  }
end

local hostile = {
  id = "0b7f<x>", name = "<script>alert(1)</script>", backend = "bubblewrap",
  project_dir = "/home/me/\"quoted\" & <dir>", status = "running", network = "private",
  created_at = "2025-01-15T10:30:00Z", home = "/nonexistent", log_path = "/nonexistent/x.log",
}

describe("templates", function()
  it("escape every value unless it is marked safe", function()
    local render = template.compile("<p title=\"{{ a }}\">{{ b }}{{ safe(c) }}{{ missing }}</p>")
    assert.equal('<p title="&quot;&#39;">&lt;b&gt;&amp;<i>ok</i></p>',
      render { a = "\"'", b = "<b>&", c = "<i>ok</i>" })
  end)

  it("run statements and keep line numbers for errors", function()
    local render = template.compile("{% for i = 1, n do %}{{ i }},{% end %}{# note #}")
    assert.equal("1,2,3,", render { n = 3 })
    local ok, err = pcall(template.compile("line 1\nline 2 {{ nothing.field }}", "t.html"), {})
    assert.is_false(ok)
    assert.truthy(err:find("t.html:2", 1, true), err)
  end)

  it("refuse an unclosed tag with its line", function()
    local ok, err = pcall(template.compile, "a\nb {{ x", "bad.html")
    assert.is_false(ok)
    assert.truthy(err:find("bad.html:2: unclosed", 1, true), err)
  end)

  it("keep text that looks like Lua string syntax as it is", function()
    assert.equal("]] [[ \\n %s \"", template.compile("]] [[ \\n %s \"")())
  end)
end)

describe("number formats", function()
  it("read well", function()
    assert.equal("1,234,567", format.count(1234567))
    assert.equal("1.5 KiB", format.bytes(1536))
    assert.equal("12 B", format.bytes(12.5), "a rate can be fractional")
    assert.equal("12.5%", format.percent(0.125))
    assert.equal("< $0.01", format.dollars(0.001))
    assert.equal("—", format.count(nil))
    assert.equal("never", format.ago(nil))
    assert.equal("1m ago", format.ago("2025-01-15T10:30:00Z", os.time { year = 2025, month = 1, day = 15,
      hour = 10, min = 31, sec = 0, isdst = false } + (os.time() - os.time(os.date("!*t")))))
  end)
end)

describe("the views", function()
  it("list sandboxes with every field escaped", function()
    local html = views.sandbox_list(app_with { hostile })
    assert.falsy(html:find("<script>", 1, true))
    assert.truthy(html:find("&lt;script&gt;alert(1)&lt;/script&gt;", 1, true))
    assert.truthy(html:find("/sandboxes/0b7f%3Cx%3E", 1, true), "ids are URL-encoded in links")
    assert.truthy(html:find("&quot;quoted&quot; &amp; &lt;dir&gt;", 1, true))
  end)

  it("show an empty list as an invitation", function()
    assert.truthy(views.sandbox_list(app_with {}):find('href="/new"', 1, true))
  end)

  it("render every page", function()
    local app = app_with { hostile }
    async.run(function()
      local index = views.index(app)
      assert.truthy(index:find('hx-get="/fragments/system-metrics"', 1, true))
      assert.truthy(index:find('hx-get="/fragments/sandbox-list"', 1, true))
      assert.truthy(index:find("<title>Sandboxes · sbx</title>", 1, true))
      local detail = views.sandbox(app, hostile)
      assert.truthy(detail:find('data-log-url="/ws/sandboxes/0b7f%3Cx%3E/logs"', 1, true))
      assert.truthy(detail:find("/vendor/xterm.js", 1, true))
      assert.truthy(detail:find('hx-post="/api/sandboxes/0b7f%3Cx%3E/stop"', 1, true))
      assert.truthy(detail:find("Input tokens", 1, true))
      assert.falsy(detail:find("<script>alert", 1, true))
      assert.truthy(views.system_metrics():find("CPU", 1, true))
    end)
  end)

  it("turn the form's checkbox into the network mode", function()
    local base = { name = "a", backend = "bubblewrap", project_dir = "/p" }
    local function with(fields)
      local form = {}
      for k, v in pairs(base) do form[k] = v end
      for k, v in pairs(fields) do form[k] = v end
      return form
    end
    assert.equal("none", views.create_request(with {}).network, "unchecked: no network")
    assert.equal("none", views.create_request(with { network_mode = "host" }).network)
    assert.equal("private", views.create_request(with { network = "on" }).network)
    assert.equal("host", views.create_request(with { network = "on", network_mode = "host" }).network)
    local request, message, field = views.create_request(with { network = "on", network_mode = "bridge" })
    assert.is_nil(request)
    assert.equal("network_mode", field)
    assert.truthy(message)
  end)

  it("keep the form's values and name the field at fault", function()
    local html = views.new_form({ name = "<b>", project_dir = "relative", network = "none" },
      "project_dir must be an absolute path", "project_dir")
    assert.truthy(html:find('value="&lt;b&gt;"', 1, true))
    assert.truthy(html:find('role="alert">project_dir must be an absolute path', 1, true))
    assert.truthy(html:find('id="project_dir" name="project_dir" required value="relative"' ..
      ' placeholder="/home/me/my-project" aria-invalid="true"', 1, true))
    assert.falsy(html:find('name="network" value="on" checked', 1, true))
  end)
end)
