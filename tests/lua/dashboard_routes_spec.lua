-- The dashboard's routes through the manager's real router, app and fleet
-- (no socket): a sandbox record whose screen is a real Xvfb's -fbdir
-- file, whose project has Claude Code session files, as the manager keeps
-- them. The browser suite (tests/integration/dashboard.sh) drives the same
-- routes over HTTP with sandboxes made by `sbx run`.
local async = require "sbx.async"
local cjson = require "cjson"
local uv = require "luv"
local Fleet = require "sbx.manager.fleet"
local app_module = require "sbx.manager.app"
local router_module = require "sbx.web.router"
local routes = require "sbx.web.routes"
local paths = require "sbx.paths"
local claude_usage = require "sbx.dashboard.claude_usage"
local scratches = dofile("tests/lua/support/scratch.lua")
teardown(scratches.clean)
local xvfb = dofile("tests/lua/support/xvfb.lua")

describe("the dashboard's routes", function()
  if not paths.which("Xvfb") then
    it("need Xvfb", function() pending("this machine has no Xvfb") end)
    return
  end

  local scratch, stop_xvfb, router, record, id
  local function request(method, path, headers, body)
    local query = {}
    local bare, query_text = path:match("^([^?]*)%??(.*)$")
    for name, value in query_text:gmatch("([^&=]+)=([^&]*)") do query[name] = value end
    return async.run(function()
      return router:handle { method = method, path = bare, query = query, headers = headers or {},
        body = body or "", cookies = {}, peer = "127.0.0.1" }
    end)
  end

  setup(function()
    scratch = scratches.dir()
    local project = scratch .. "/project"
    for _, dir in ipairs { project, scratch .. "/home" } do
      assert(uv.fs_mkdir(dir, tonumber("700", 8)))
    end
    local fleet = Fleet.new { state_dir = scratch .. "/state", tmux_socket = scratch .. "/tmux.sock",
      sbx = "/nonexistent/sbx", default_network = "none" }
    id = "0b7f5c1e-1111-4222-8333-444455556666"
    local display = assert(xvfb.free_display(), "no free X display number")
    record = fleet:decorate { id = id, name = "routes <test>", backend = "bubblewrap",
      project_dir = project, status = "running", display_num = display, network = "none",
      created_at = "2026-01-01T00:00:00.000Z", tmux_session = "sandbox-0b7f5c1e",
      home = scratch .. "/home" }
    fleet.records[id] = record
    os.execute(("mkdir -p '%s/state/logs'"):format(scratch))
    local log = assert(io.open(record.log_path, "w"))
    log:write("\27[1mhello\27[0m\r\n")
    log:close()
    stop_xvfb = xvfb.start(display, record.fb_dir, "640x480x24")

    -- A Claude Code session of the project, in Claude Code's format.
    local sessions = claude_usage.sessions_dir(record.home, project)
    os.execute(("mkdir -p '%s'"):format(sessions))
    local session = assert(io.open(sessions .. "/9a1c2b3d-0000-4000-8000-000000000001.jsonl", "w"))
    for _, line in ipairs {
      { type = "user", uuid = "u1", sessionId = "s1", timestamp = "2026-01-01T00:00:01.000Z",
        message = { role = "user", content = "fix <the> bug" } },
      { type = "assistant", uuid = "a1", sessionId = "s1", requestId = "r1", timestamp = "2026-01-01T00:00:02.000Z",
        message = { id = "m1", model = "claude-sonnet-4-5",
          content = { { type = "text", text = "**Fixed** <script>x</script>" } },
          usage = { input_tokens = 10, output_tokens = 5 } } },
      { type = "assistant", uuid = "a2", sessionId = "s1", requestId = "r1", timestamp = "2026-01-01T00:00:02.000Z",
        message = { id = "m1", model = "claude-sonnet-4-5",
          content = { { type = "tool_use", id = "t1", name = "Edit", input = { file = "<a>" } } },
          usage = { input_tokens = 10, output_tokens = 5 } } },
    } do
      session:write(cjson.encode(line), "\n")
    end
    session:close()

    local app = app_module.new(fleet, { state_dir = scratch .. "/state" }, nil)
    local list, starts = routes.load()
    router = router_module.new { routes = list, app = app }
    for _, start in ipairs(starts) do start.start(app) end
  end)

  teardown(function()
    if stop_xvfb then stop_xvfb() end
  end)

  it("serve the latest screen as a JPEG that is never cached, with an ETag and 304", function()
    local result = request("GET", "/api/sandboxes/" .. id .. "/screenshot")
    assert.equal(200, result.status)
    assert.equal("image/jpeg", result.headers["content-type"])
    assert.equal("no-store", result.headers["cache-control"])
    assert.equal("\255\216", result.body:sub(1, 2))
    local etag = result.headers.etag
    assert.truthy(etag:match('^"%x+%-live"$'))
    local again = request("GET", "/api/sandboxes/" .. id .. "/screenshot", { ["if-none-match"] = etag })
    assert.equal(304, again.status)
    assert.equal("", again.body)
    local thumb = request("GET", "/api/sandboxes/" .. id .. "/screenshot?size=thumb")
    assert.equal(200, thumb.status)
    assert.is_true(#thumb.body < #result.body)
  end)

  it("answer 404 for an unknown sandbox or a missing screen, 422 for a bad size", function()
    assert.equal(404, request("GET", "/api/sandboxes/nope/screenshot").status)
    assert.equal(422, request("GET", "/api/sandboxes/" .. id .. "/screenshot?size=huge").status)
    local saved = record.fb_dir
    record.fb_dir = scratch .. "/elsewhere/"
    local missing = request("GET", "/api/sandboxes/" .. id .. "/screenshot")
    record.fb_dir = saved
    assert.equal(404, missing.status)
    assert.equal("no screenshot", cjson.decode(missing.body).error)
  end)

  it("give a sandbox's figures and the host's as JSON", function()
    local result = request("GET", "/api/sandboxes/" .. id .. "/metrics")
    assert.equal(200, result.status)
    local body = cjson.decode(result.body)
    assert.equal(10, body.claude.input_tokens, "one response, written as two lines, counted once")
    assert.same({ Edit = 1 }, body.claude.tools)
    assert.equal(1, body.claude.prompts)
    assert.equal("number", type(body.rss_bytes))
    local system = cjson.decode(request("GET", "/api/metrics/system").body)
    assert.is_true(system.memory.total > 0)
    assert.equal(3, #system.load)
  end)

  it("render the pages and fragments, escaping what the sandbox wrote", function()
    for _, path in ipairs { "/", "/new", "/sandboxes/" .. id, "/fragments/sandbox-list",
      "/fragments/system-metrics", "/fragments/sandboxes/" .. id .. "/claude-metrics",
      "/fragments/sandboxes/" .. id .. "/screenshot", "/sandboxes/" .. id .. "/transcript" } do
      local result = request("GET", path)
      assert.equal(200, result.status, path)
      assert.equal("text/html; charset=utf-8", result.headers["content-type"], path)
      assert.falsy(result.body:find("routes <test>", 1, true), path .. " escapes the name")
    end
    local transcript = request("GET", "/sandboxes/" .. id .. "/transcript/9a1c2b3d-0000-4000-8000-000000000001")
    assert.equal(200, transcript.status)
    assert.truthy(transcript.body:find("<strong>Fixed</strong>", 1, true), "the model's markdown is HTML")
    assert.falsy(transcript.body:find("<script>x", 1, true), "raw HTML in it is not")
    assert.truthy(transcript.body:find("fix &lt;the&gt; bug", 1, true), "the prompt is text")
    assert.truthy(transcript.body:find("&quot;&lt;a&gt;&quot;", 1, true), "tool input is text")
    for _, bad in ipairs { "..%2F..%2Fetc%2Fpasswd", "x.jsonl", "nope", ("a"):rep(100) } do
      assert.equal(404, request("GET", "/sandboxes/" .. id .. "/transcript/" .. bad).status, bad)
    end
  end)

  it("answer the form: a refused sandbox re-renders the form with the reason", function()
    local result = request("POST", "/new", { ["content-type"] = "application/x-www-form-urlencoded" },
      "name=x&backend=bubblewrap&project_dir=relative&network=on&network_mode=private")
    assert.equal(422, result.status)
    assert.truthy(result.body:find('role="alert"', 1, true))
    assert.truthy(result.body:find('value="relative"', 1, true))
    local bad_mode = request("POST", "/new", { ["content-type"] = "application/x-www-form-urlencoded" },
      "name=x&backend=bubblewrap&project_dir=/tmp&network=on&network_mode=bridge")
    assert.equal(422, bad_mode.status)
    assert.truthy(bad_mode.body:find("network_mode must be private or host", 1, true))
  end)

  it("serve the npm browser libraries without a login, and nothing else under /vendor", function()
    local vendor = require "sbx.dashboard.vendor"
    if not vendor.get("htmx.min.js") then
      pending("node_modules is not installed here (make deps)")
      return
    end
    for name in pairs(vendor.files) do
      local result = request("GET", "/vendor/" .. name)
      assert.equal(200, result.status, name)
      assert.truthy(result.headers.etag)
    end
    assert.equal(404, request("GET", "/vendor/..%2Fpackage.json").status)
    assert.equal(404, request("GET", "/vendor/package.json").status)
  end)
end)
