-- Joins the C server (sbx.http) to a router: each request and each
-- WebSocket runs in its own coroutine, and a streamed body waits for the
-- client (backpressure) instead of piling up in memory.
local async = require "sbx.async"
local http = require "sbx.http"
local log = require "sbx.log"

local M = {}

-- Headers libwebsockets does not know by name but routes may read.
M.extra_headers = {
  "sec-fetch-site", "sec-fetch-mode", "hx-request", "hx-target", "hx-trigger",
  "hx-current-url", "x-requested-with",
}

-- Bytes queued for a client before a streaming writer waits.
M.high_water = 256 * 1024

-- Waits until REGISTER's callback is called; returns its arguments.
local function wait_for(register)
  local co = async.current()
  register(function(...)
    local ok, err = coroutine.resume(co, ...)
    if not ok then error(debug.traceback(co, err), 0) end
  end)
  return coroutine.yield()
end

local function stream(exchange, result)
  if not exchange:start(result.status, result.headers, result.length) then return end
  local function write(chunk)
    if not exchange:is_open() then return false end
    exchange:write(chunk)
    if exchange:buffered() > M.high_water then
      wait_for(function(wake)
        exchange:on_drain(function()
          exchange:on_drain(nil)
          wake()
        end)
      end)
    end
    return exchange:is_open()
  end
  local ok, err = xpcall(result.produce, debug.traceback, write)
  if not ok then log.error("a streamed response failed: " .. err) end
  -- A failed stream with a declared length ends short, which closes the
  -- connection: the client cannot mistake it for the whole body.
  if exchange:is_open() then exchange:finish() end
end

local function answer(router, exchange, req)
  local result = router:handle(req)
  if result.produce then
    stream(exchange, result)
  else
    exchange:respond(result.status, result.headers, result.body or "")
  end
end

-- A response the server cannot send (a header with a newline, say) is a
-- bug in a route: logged, and the client gets a 500 rather than silence.
local function answer_safely(router, exchange, req)
  local ok, err = xpcall(answer, debug.traceback, router, exchange, req)
  if not ok then
    log.error(("%s %s: %s"):format(req.method, req.path, err))
    pcall(exchange.respond, exchange, 500, { ["content-type"] = "application/json" },
      '{"error":"internal error"}')
  end
end

-- The address without IPv4-in-IPv6 dressing: "::ffff:127.0.0.1" -> "127.0.0.1".
local function plain_peer(peer)
  return peer and peer:match("^::ffff:(%d+%.%d+%.%d+%.%d+)$") or peer
end

-- Starts serving ROUTER. OPTIONS: host, port, unix_path, max_body.
-- Returns the server (server:port(), M.stop(server)) or nil and a message.
function M.start(router, options)
  return http.listen {
    host = options.host, port = options.port, unix_path = options.unix_path,
    max_body = options.max_body, extra_headers = M.extra_headers,
    on_request = function(exchange, req)
      req.peer = plain_peer(req.peer)
      async.spawn_task(answer_safely, router, exchange, req)
    end,
    on_upgrade = function(req)
      req.peer = plain_peer(req.peer)
      return router:check_upgrade(req)
    end,
    on_websocket = function(ws, req)
      req.peer = plain_peer(req.peer)
      async.spawn_task(function() router:websocket(ws, req) end)
    end,
  }
end

-- Closes SERVER and waits (in a task) until libwebsockets has let go of
-- the loop.
function M.stop(server)
  server:close()
  while not server:is_closed() or http.busy() > 0 do async.sleep(5) end
end

return M
