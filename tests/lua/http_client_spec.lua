-- The HTTP client sbx api uses: responses parsed and checked, garbage and
-- truncation refused with a message, and a real request to a real server.
local async = require "sbx.async"
local http_client = require "sbx.http_client"
local uv = require "luv"

describe("the HTTP client", function()
  it("parses a response with a Content-Length, keeping only that many bytes", function()
    local response = assert(http_client.parse_response(
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}extra"))
    assert.equal(201, response.status)
    assert.equal("application/json", response.headers["content-type"])
    assert.equal("{}", response.body)
  end)

  it("decodes a chunked body", function()
    local response = assert(http_client.parse_response(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"))
    assert.equal("hello world", response.body)
  end)

  it("reads a body without a length to the end", function()
    assert.equal("all of it", assert(http_client.parse_response("HTTP/1.0 200 OK\r\n\r\nall of it")).body)
  end)

  it("refuses what is not a whole response, saying why", function()
    local cases = {
      { "", "ended before its headers" },
      { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n", "ended before its headers" },
      { "SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response" },
      { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "shorter than its Content-Length" },
      { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "shorter than its Content-Length" },
      { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk" },
      { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", "truncated chunk" },
    }
    for _, case in ipairs(cases) do
      local response, err = http_client.parse_response(case[1])
      assert.is_nil(response, case[1])
      assert.truthy(err:find(case[2], 1, true), err)
    end
  end)

  it("survives random bytes", function()
    math.randomseed(11)
    for _ = 1, 300 do
      local bytes = {}
      for i = 1, math.random(0, 80) do bytes[i] = string.char(math.random(0, 255)) end
      local data = (math.random() < 0.5 and "HTTP/1.1 200 OK\r\n" or "") .. table.concat(bytes)
      local ok = pcall(http_client.parse_response, data)
      assert.is_true(ok)
    end
  end)

  it("sends a request to a real server and reads its answer", function()
    local server = uv.new_tcp()
    assert(server:bind("127.0.0.1", 0))
    local seen = ""
    server:listen(8, function()
      local client = uv.new_tcp()
      server:accept(client)
      client:read_start(function(_, data)
        if not data then return end
        seen = seen .. data
        if seen:find("\r\n\r\n.*ping$") then
          client:write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong", function() client:close() end)
        end
      end)
    end)
    local port = server:getsockname().port
    local response, err = async.run(http_client.request, "127.0.0.1", port, "POST", "/x", { ["X-A"] = "b" }, "ping")
    server:close()
    assert(response, err)
    assert.equal("pong", response.body)
    assert.truthy(seen:find("^POST /x HTTP/1.1\r\n"))
    assert.truthy(seen:find("\r\nHost: 127.0.0.1:" .. port .. "\r\n", 1, true))
    assert.truthy(seen:find("\r\nContent-Length: 4\r\n", 1, true))
    assert.truthy(seen:find("\r\nX-A: b\r\n", 1, true))
  end)

  it("says when nothing listens, and when the answer does not come in time", function()
    local probe = uv.new_tcp()
    assert(probe:bind("127.0.0.1", 0))
    local port = probe:getsockname().port
    probe:close()
    local response, err = async.run(http_client.request, "127.0.0.1", port, "GET", "/")
    assert.is_nil(response)
    assert.truthy(err:find("cannot connect to 127.0.0.1:" .. port, 1, true), err)

    local silent = uv.new_tcp()
    assert(silent:bind("127.0.0.1", 0))
    local accepted = {}
    silent:listen(8, function()
      local client = uv.new_tcp()
      silent:accept(client)
      accepted[#accepted + 1] = client
    end)
    local saved = http_client.timeout_ms
    http_client.timeout_ms = 200
    response, err = async.run(http_client.request, "127.0.0.1", silent:getsockname().port, "GET", "/")
    http_client.timeout_ms = saved
    for _, client in ipairs(accepted) do client:close() end
    silent:close()
    assert.is_nil(response)
    assert.truthy(err:find("no whole answer", 1, true), err)
  end)
end)
