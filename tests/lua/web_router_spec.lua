-- The router without a socket: matching, the shared checks in their order,
-- handler failures, and the helpers that read requests.
local async = require "sbx.async"
local cjson = require "cjson"
local log = require "sbx.log"
local request = require "sbx.web.request"
local response = require "sbx.web.response"
local router_module = require "sbx.web.router"
local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

local function ok_handler(name)
  return function(req) return response.json(200, { route = name, params = req.params }) end
end

local function new_router(routes, options)
  local list = {}
  for i, route in ipairs(routes) do list[i] = { route = route, where = "test" .. i } end
  options = options or {}
  options.routes = list
  return router_module.new(options)
end

-- Runs a request through ROUTER in a task, as the server does.
local function handle(router, req)
  req.headers = req.headers or {}
  return async.run(function() return router:handle(req) end)
end

local function body_of(result) return cjson.decode(result.body) end

describe("the router", function()
  local router = new_router {
    { method = "GET", path = "/api/sandboxes", handler = ok_handler("list") },
    { method = "POST", path = "/api/sandboxes", handler = ok_handler("create"), body = { "json", "form" } },
    { method = "GET", path = "/api/sandboxes/{id}", handler = ok_handler("show") },
    { method = "DELETE", path = "/api/sandboxes/{id}", handler = ok_handler("delete") },
    { method = "GET", path = "/api/sandboxes/special", handler = ok_handler("special") },
    { method = "GET", path = "/static/{path*}", handler = ok_handler("static"), public = true },
    { websocket = true, path = "/ws/{id}", handler = function() end },
  }

  it("matches literal paths and fills parameters", function()
    local result = handle(router, { method = "GET", path = "/api/sandboxes/abc" })
    assert.equal(200, result.status)
    assert.same({ route = "show", params = { id = "abc" } }, body_of(result))
  end)

  it("prefers a literal segment over a parameter", function()
    assert.equal("special", body_of(handle(router, { method = "GET", path = "/api/sandboxes/special" })).route)
  end)

  it("gives the rest of the path to a {name*} segment", function()
    local result = body_of(handle(router, { method = "GET", path = "/static/js/app.js" }))
    assert.same({ route = "static", params = { path = "js/app.js" } }, result)
  end)

  it("answers 404 for an unknown path, with the uniform JSON error", function()
    local result = handle(router, { method = "GET", path = "/nope" })
    assert.equal(404, result.status)
    assert.equal("application/json", result.headers["content-type"])
    assert.equal("not found", body_of(result).error)
  end)

  it("answers 405 with Allow for a known path and a wrong method", function()
    local result = handle(router, { method = "PUT", path = "/api/sandboxes/x" })
    assert.equal(405, result.status)
    assert.equal("DELETE, GET, HEAD", result.headers.allow)
  end)

  it("answers HEAD as GET, marking the request", function()
    local seen
    local r = new_router { { method = "GET", path = "/x", handler = function(req)
      seen = req.head
      return response.text(200, "body")
    end } }
    assert.equal(200, handle(r, { method = "HEAD", path = "/x" }).status)
    assert.is_true(seen)
  end)

  it("answers 426 for a plain GET on a WebSocket path", function()
    assert.equal(426, handle(router, { method = "GET", path = "/ws/1" }).status)
  end)

  it("adds the security headers to every response", function()
    local result = handle(router, { method = "GET", path = "/nope" })
    assert.equal("nosniff", result.headers["x-content-type-options"])
    assert.equal("DENY", result.headers["x-frame-options"])
    assert.truthy(result.headers["content-security-policy"]:find("frame-ancestors 'none'", 1, true))
  end)

  it("refuses two routes with the same method and path", function()
    assert.has_error(function()
      new_router {
        { method = "GET", path = "/a", handler = ok_handler("a") },
        { method = "GET", path = "/a", handler = ok_handler("b") },
      }
    end)
  end)

  it("refuses malformed routes when it is built", function()
    assert.has_error(function() new_router { { method = "FETCH", path = "/a", handler = ok_handler("a") } } end)
    assert.has_error(function() new_router { { method = "GET", path = "a", handler = ok_handler("a") } } end)
    assert.has_error(function() new_router { { method = "GET", path = "/{x*}/b", handler = ok_handler("a") } } end)
    assert.has_error(function()
      new_router { { method = "GET", path = "/a", handler = ok_handler("a"), body = "xml" } }
    end)
  end)

  describe("the body", function()
    it("parses JSON into req.data", function()
      local seen
      local r = new_router { { method = "POST", path = "/x", body = "json", handler = function(req)
        seen = req.data
        return response.no_content()
      end } }
      local result = handle(r, { method = "POST", path = "/x", body = '{"a":1}',
        headers = { ["content-type"] = "application/json; charset=utf-8" } })
      assert.equal(204, result.status)
      assert.same({ a = 1 }, seen)
    end)

    it("parses forms into req.data", function()
      local seen
      local r = new_router { { method = "POST", path = "/x", body = { "json", "form" }, handler = function(req)
        seen = req.data
        return response.no_content()
      end } }
      handle(r, { method = "POST", path = "/x", body = "name=a+b&dir=%2Ftmp%2Fx&flag",
        headers = { ["content-type"] = "application/x-www-form-urlencoded" } })
      assert.same({ name = "a b", dir = "/tmp/x", flag = "" }, seen)
    end)

    it("answers 415 for another content type, naming the ones accepted", function()
      local result = handle(router, { method = "POST", path = "/api/sandboxes", body = "x",
        headers = { ["content-type"] = "text/plain" } })
      assert.equal(415, result.status)
      assert.truthy(body_of(result).error:find("application/json", 1, true))
    end)

    it("answers 415 when there is no content type at all", function()
      assert.equal(415, handle(router, { method = "POST", path = "/api/sandboxes", body = "{}" }).status)
    end)

    it("answers 400 for malformed JSON and for JSON that is not an object", function()
      for _, text in ipairs { "{", '{"a":}', "[1,2]", "[]", '"text"', "42", "", string.rep("[", 5000) } do
        local result = handle(router, { method = "POST", path = "/api/sandboxes", body = text,
          headers = { ["content-type"] = "application/json" } })
        assert.equal(400, result.status, text:sub(1, 20))
      end
    end)
  end)

  describe("the checks", function()
    local calls
    local guarded = new_router({
      { method = "GET", path = "/private", handler = ok_handler("private") },
      { method = "GET", path = "/public", public = true, handler = ok_handler("public") },
      { method = "POST", path = "/change", body = "json", handler = ok_handler("change") },
      { method = "GET", path = "/get-change", changes_state = true, handler = ok_handler("gc") },
    }, {
      authenticate = function(req)
        calls[#calls + 1] = "auth"
        return req.headers.authorization == "yes" and "token" or nil
      end,
      check_origin = function(req)
        calls[#calls + 1] = "origin"
        if req.headers.origin == "evil" then return nil, "cross-origin" end
        return true
      end,
      check_host = function(req)
        calls[#calls + 1] = "host"
        if req.headers.host == "rebound.example" then return nil, "bad host" end
        return true
      end,
    })
    before_each(function() calls = {} end)

    it("answers 401 without credentials, JSON under /api and HTML elsewhere", function()
      local result = handle(guarded, { method = "GET", path = "/private" })
      assert.equal(401, result.status)
      assert.truthy(result.headers["content-type"]:find("text/html", 1, true))
    end)

    it("lets public routes through without credentials", function()
      assert.equal(200, handle(guarded, { method = "GET", path = "/public" }).status)
    end)

    it("answers 403 for a refused Host, even on public routes", function()
      local result = handle(guarded, { method = "GET", path = "/public", headers = { host = "rebound.example" } })
      assert.equal(403, result.status)
      assert.equal("bad host", body_of(result).error)
    end)

    it("checks the Origin only on state-changing routes, after authentication", function()
      assert.equal(200, handle(guarded, { method = "GET", path = "/private",
        headers = { authorization = "yes", origin = "evil" } }).status)
      assert.same({ "host", "auth" }, calls)
      calls = {}
      local result = handle(guarded, { method = "POST", path = "/change", body = "{}",
        headers = { authorization = "yes", origin = "evil", ["content-type"] = "application/json" } })
      assert.equal(403, result.status)
      assert.same({ "host", "auth", "origin" }, calls)
      assert.equal(403, handle(guarded, { method = "GET", path = "/get-change",
        headers = { authorization = "yes", origin = "evil" } }).status)
    end)

    it("checks credentials before the body", function()
      local result = handle(guarded, { method = "POST", path = "/change", body = "{",
        headers = { ["content-type"] = "application/json" } })
      assert.equal(401, result.status)
    end)

    it("checks a WebSocket upgrade: path, credentials, and always the Origin", function()
      local ws_router = new_router({ { websocket = true, path = "/ws/{id}", handler = function() end } }, {
        authenticate = function(req) return req.headers.authorization and "token" or nil end,
        check_origin = function(req) return req.headers.origin ~= "evil" end,
      })
      assert.equal(404, (ws_router:check_upgrade { path = "/nope", headers = {} }))
      assert.equal(401, (ws_router:check_upgrade { path = "/ws/1", headers = {} }))
      local foreign = { authorization = "x", origin = "evil" }
      assert.equal(403, (ws_router:check_upgrade { path = "/ws/1", headers = foreign }))
      assert.is_nil(ws_router:check_upgrade { path = "/ws/1", headers = { authorization = "x" } })
    end)
  end)

  describe("a failing handler", function()
    local log_path = scratch.path("log")
    before_each(function() assert(log.set_file(log_path)) end)
    after_each(function()
      log.set_file(nil)
      os.remove(log_path)
    end)

    it("gives 500 without details, and its traceback goes to the log", function()
      local r = new_router { { method = "GET", path = "/boom", handler = function()
        error("secret detail")
      end } }
      local result = handle(r, { method = "GET", path = "/boom" })
      assert.equal(500, result.status)
      assert.equal("internal error", body_of(result).error)
      assert.is_nil(result.body:find("secret", 1, true))
      local text = io.open(log_path):read("a")
      assert.truthy(text:find("secret detail", 1, true))
      assert.truthy(text:find("traceback", 1, true))
    end)

    it("gives 500 when the handler returns no response", function()
      local r = new_router { { method = "GET", path = "/nothing", handler = function() end } }
      assert.equal(500, handle(r, { method = "GET", path = "/nothing" }).status)
    end)
  end)

  it("lets handlers wait without blocking: they run in a coroutine", function()
    local r = new_router { { method = "GET", path = "/slow", handler = function()
      async.sleep(5)
      return response.text(200, "late")
    end } }
    assert.equal("late", handle(r, { method = "GET", path = "/slow" }).body)
  end)
end)

describe("request helpers", function()
  it("read cookies", function()
    assert.same({ a = "1", sbx_session = "abc", q = "quoted" },
      request.parse_cookies('a=1; sbx_session=abc ;q="quoted"; junk'))
    assert.same({}, request.parse_cookies(nil))
  end)

  it("read media types", function()
    assert.equal("application/json", request.media_type("Application/JSON; charset=utf-8"))
    assert.is_nil(request.media_type(nil))
  end)
end)

describe("responses", function()
  it("send an empty list as [] when it is marked as a list", function()
    assert.equal("[]", response.json(200, response.array {}).body)
    assert.equal("{}", response.json(200, {}).body)
  end)

  it("build the uniform error", function()
    assert.same({ error = "bad", field = "name" }, cjson.decode(response.error(422, "bad", "name").body))
  end)
end)
