-- The C server (sbx.http) and its glue (sbx.web.server) on real sockets:
-- what reaches Lua, keep-alive, limits, streaming with backpressure,
-- WebSockets, the Unix socket, and a clean teardown.
local async = require "sbx.async"
local cjson = require "cjson"
local http = require "sbx.http"
local log = require "sbx.log"
local response = require "sbx.web.response"
local router_module = require "sbx.web.router"
local server_module = require "sbx.web.server"
local uv = require "luv"

local client = dofile("tests/lua/support/raw_client.lua")

-- Failures the specs provoke are logged; they go to a file, not the TAP.
local scratch = dofile("tests/lua/support/scratch.lua")
local log_path = scratch.path("log")
setup(function() assert(log.set_file(log_path)) end)
teardown(function()
  log.set_file(nil)
  scratch.clean()
end)

-- Runs FN(port, server) against a server for ROUTES (route tables), then
-- stops the server and checks libwebsockets let go of the loop.
local function with_server(routes, fn, options)
  options = options or {}
  async.run(function()
    local list = {}
    for i, route in ipairs(routes) do list[i] = { route = route, where = "spec" .. i } end
    local router = router_module.new { routes = list, authenticate = options.authenticate }
    local server = assert(server_module.start(router, { host = "127.0.0.1", port = 0,
      max_body = options.max_body or 1000, unix_path = options.unix_path }))
    local ok, err = xpcall(fn, debug.traceback, server:port(), server)
    server_module.stop(server)
    assert.equal(0, http.busy())
    if not ok then error(err, 0) end
  end)
end

local echo_route = { method = "POST", path = "/echo", handler = function(req)
  return response.json(200, { method = req.method, path = req.path, query = req.query, body = req.body,
    headers = req.headers, peer = req.peer, transport = req.transport })
end }
local get_route = { method = "GET", path = "/get", handler = function(req)
  return response.json(200, { query = req.query, headers = req.headers, peer = req.peer })
end }

describe("the HTTP server", function()
  it("gives Lua the method, decoded path and query, headers, peer and body", function()
    with_server({ echo_route }, function(port)
      local status, _, body = client.request(port, "POST /echo?a=1&b=x%20y&flag HTTP/1.1\r\nHost: h\r\n"
        .. "Content-Type: text/plain\r\nSec-Fetch-Site: same-origin\r\nContent-Length: 5\r\n\r\nhello")
      assert.equal(200, status)
      local seen = cjson.decode(body)
      assert.equal("POST", seen.method)
      assert.equal("/echo", seen.path)
      assert.same({ a = "1", b = "x y", flag = "" }, seen.query)
      assert.equal("hello", seen.body)
      assert.equal("text/plain", seen.headers["content-type"])
      assert.equal("same-origin", seen.headers["sec-fetch-site"])
      assert.equal("127.0.0.1", seen.peer)
      assert.equal("tcp", seen.transport)
    end)
  end)

  it("answers several requests on one kept-alive connection", function()
    with_server({ get_route }, function(port)
      local connection = assert(client.connect(port))
      for i = 1, 3 do
        connection:send(("GET /get?n=%d HTTP/1.1\r\nHost: h\r\n\r\n"):format(i))
        local status, body
        assert.is_true(connection:wait_until(function(buffer)
          local s, _, b, rest = client.parse_response(buffer)
          if s then status, body, connection.buffer = s, b, rest end
          return s ~= nil
        end))
        assert.equal(200, status)
        assert.equal(tostring(i), cjson.decode(body).query.n)
      end
      connection:close()
    end)
  end)

  it("answers HEAD with the headers of GET and no body", function()
    with_server({ get_route }, function(port)
      local connection = assert(client.connect(port))
      connection:send("HEAD /get HTTP/1.1\r\nHost: h\r\n\r\nGET /get HTTP/1.1\r\nHost: h\r\n\r\n")
      assert.is_true(connection:wait_until(function(buffer) return select(2, buffer:gsub("HTTP/1.1 200", "")) == 2 end))
      local first_length = connection.buffer:match("content%-length: (%d+)")
      assert.truthy(tonumber(first_length) > 0)
      -- The second response starts right after the first one's headers.
      assert.truthy(connection.buffer:find("\r\n\r\nHTTP/1.1 200", 1, true))
      connection:close()
    end)
  end)

  it("refuses a body over the limit with 413 before reading it, and closes", function()
    with_server({ echo_route }, function(port)
      local connection = assert(client.connect(port))
      connection:send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n" .. ("x"):rep(100))
      local status, headers, body
      connection:wait_until(function(buffer)
        status, headers, body = client.parse_response(buffer)
        return status ~= nil
      end)
      assert.equal(413, status)
      assert.equal("application/json", headers["content-type"])
      assert.truthy(cjson.decode(body).error:find("limit", 1, true))
      assert.is_true(connection:wait_closed(3000))
    end, { max_body = 1000 })
  end)

  it("refuses a chunked body with 411 and a malformed length with 400", function()
    with_server({ echo_route }, function(port)
      assert.equal(411, (client.request(port, "POST /echo HTTP/1.1\r\nHost: h\r\n"
        .. "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")))
      assert.equal(400, (client.request(port, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n")))
    end)
  end)

  it("streams a large body at the client's pace, and stops when it leaves", function()
    local chunk = ("0123456789abcdef"):rep(4096) -- 64 KiB
    local produced, finished = 0, false
    local stream_route = { method = "GET", path = "/big", handler = function()
      return response.stream { length = #chunk * 64, headers = { ["content-type"] = "text/plain" },
        produce = function(write)
          for _ = 1, 64 do
            if not write(chunk) then break end
            produced = produced + 1
          end
          finished = true
        end }
    end }
    with_server({ stream_route }, function(port)
      local connection = assert(client.connect(port))
      connection.handle:read_stop() -- a client that does not read yet
      connection:send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
      async.sleep(300)
      -- Socket buffers hold some; the producer must have been held back.
      assert.truthy(produced < 64, "produced " .. produced .. " chunks for a client that reads nothing")
      connection:close()
      for _ = 1, 100 do
        if finished then break end
        async.sleep(20)
      end
      assert.is_true(finished)
      assert.truthy(produced < 64)
    end)
  end)

  it("delivers a whole streamed body to a client that reads", function()
    local chunk = ("z"):rep(100000)
    local stream_route = { method = "GET", path = "/big", handler = function()
      return response.stream { length = #chunk * 30, produce = function(write)
        for _ = 1, 30 do write(chunk) end
      end }
    end }
    with_server({ stream_route }, function(port)
      local status, _, body = client.request(port, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n", 20000)
      assert.equal(200, status)
      assert.equal(#chunk * 30, #body)
    end)
  end)

  it("answers 500 when a response cannot be sent (a header with a newline)", function()
    local bad = { method = "GET", path = "/bad", handler = function()
      return response.text(200, "x", nil, { ["x-bad"] = "a\r\nb: c" })
    end }
    with_server({ bad }, function(port)
      assert.equal(500, (client.get(port, "/bad")))
    end)
  end)

  it("serves the Unix socket too, marked as such", function()
    local path = scratch.path("socket")
    with_server({ get_route }, function()
      local status, _, body = client.request(path, "GET /get HTTP/1.1\r\nHost: h\r\n\r\n")
      assert.equal(200, status)
      assert.equal("unix", cjson.decode(body).peer)
    end, { unix_path = path })
    os.remove(path)
  end)

  it("survives garbage and half requests", function()
    with_server({ get_route }, function(port)
      for _, raw in ipairs {
        "\0\1\2\3\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "BREW /pot HTCPCP/1.0\r\n\r\n",
        "GET /get HTTP/1.1\r\nHost: h\r\nX: " .. ("a"):rep(70000) .. "\r\n\r\n",
        "GET /get HTTP/1.1\r\n" .. ("X-A: b\r\n"):rep(3000) .. "\r\n",
        "GET /get HTTP/1.1\r\nHost: h", "POST /get HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
      } do
        local connection = assert(client.connect(port))
        connection:send(raw)
        connection:wait_until(function(buffer) return buffer:find("\r\n\r\n") ~= nil end, 300)
        connection:close()
      end
      assert.equal(200, (client.get(port, "/get")))
    end)
  end)
end)

describe("the WebSocket server", function()
  local echo_ws = { websocket = true, path = "/ws/{id}", handler = function(req, ws)
    ws:send("hello " .. req.params.id)
    ws.on_message = function(data, binary)
      if data == "close" then
        ws:close(4000, "asked")
      elseif data == "flood" then
        ws.max_queue = 1000
        local refused
        for _ = 1, 100 do
          local ok, why = ws:send(("f"):rep(100))
          if not ok then refused = why break end
        end
        ws.max_queue = nil
        ws:send("refused: " .. tostring(refused))
      elseif data == "boom" then
        error("callback failure")
      else
        ws:send((binary and "binary:" or "echo:") .. data)
      end
    end
  end }

  it("echoes messages and closes with the code it was given", function()
    with_server({ echo_ws }, function(port)
      local ws = assert(client.websocket(port, "/ws/42"))
      assert.same({ 1, "hello 42" }, { ws:receive() })
      ws:send_text("hi")
      assert.same({ 1, "echo:hi" }, { ws:receive() })
      ws:send_text(("m"):rep(60000))
      assert.same({ 1, "echo:" .. ("m"):rep(60000) }, { ws:receive() })
      ws:send_text("close")
      local opcode, payload = ws:receive()
      assert.equal(8, opcode)
      assert.equal(4000, string.unpack(">I2", payload))
      assert.equal("asked", payload:sub(3))
      assert.is_true(ws:wait_closed(3000))
    end)
  end)

  it("refuses a message over 64 KiB by closing with 1009", function()
    with_server({ echo_ws }, function(port)
      local ws = assert(client.websocket(port, "/ws/1"))
      ws:receive()
      ws:send_text(("m"):rep(70000))
      local opcode, payload = ws:receive()
      assert.equal(8, opcode)
      assert.equal(1009, string.unpack(">I2", payload))
    end)
  end)

  it("drops messages past the queue limit instead of buffering without end", function()
    with_server({ echo_ws }, function(port)
      local ws = assert(client.websocket(port, "/ws/1"))
      ws:receive()
      ws:send_text("flood")
      local last
      for _ = 1, 20 do
        local _, payload = ws:receive()
        last = payload
        if payload:find("^refused") then break end
      end
      assert.equal("refused: backpressure", last)
    end)
  end)

  it("closes with 1011 when a callback raises, and keeps serving", function()
    with_server({ echo_ws }, function(port)
      local ws = assert(client.websocket(port, "/ws/1"))
      ws:receive()
      ws:send_text("boom")
      local opcode, payload = ws:receive()
      assert.equal(8, opcode)
      assert.equal(1011, string.unpack(">I2", payload))
      assert.truthy(io.open(log_path):read("a"):find("callback failure", 1, true))
      local again = assert(client.websocket(port, "/ws/2"))
      assert.same({ 1, "hello 2" }, { again:receive() })
      again:close()
    end)
  end)

  it("refuses an upgrade with the router's status", function()
    with_server({ echo_ws }, function(port)
      local ws, status, body = client.websocket(port, "/nowhere")
      assert.is_nil(ws)
      assert.equal(404, status)
      assert.equal("not found", cjson.decode(body).error)
      ws, status = client.websocket(port, "/ws/1")
      assert.is_nil(ws)
      assert.equal(401, status)
    end, { authenticate = function() return nil end })
  end)

  it("tells the handler when the client goes away", function()
    local closed = false
    local watch = { websocket = true, path = "/watch", handler = function(_, ws)
      ws.on_close = function() closed = true end
    end }
    with_server({ watch }, function(port)
      local ws = assert(client.websocket(port, "/watch"))
      async.sleep(50)
      ws:close()
      for _ = 1, 100 do
        if closed then break end
        async.sleep(10)
      end
      assert.is_true(closed)
    end)
  end)
end)

describe("a server that cannot listen", function()
  it("says so and leaves the loop clean", function()
    async.run(function()
      local holder = uv.new_tcp()
      assert(holder:bind("127.0.0.1", 0))
      assert(holder:listen(1, function() end))
      local port = holder:getsockname().port
      local server, err = http.listen { host = "127.0.0.1", port = port, on_request = function() end }
      assert.is_nil(server)
      assert.truthy(err:find("listen", 1, true))
      while http.busy() > 0 do async.sleep(5) end
      holder:close()
    end)
  end)
end)
