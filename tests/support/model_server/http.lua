-- A small HTTP/1.1 server on luv, enough for the Claude Code client:
-- keep-alive, pipelined requests, Content-Length and chunked request
-- bodies. Requests are answered in order, one at a time per connection.
-- Anything malformed gets a 4xx or 5xx and the connection is closed; the
-- server goes on serving the others.
local uv = require "luv"

local M = {}

M.max_head_bytes = 64 * 1024
M.max_body_bytes = 64 * 1024 * 1024

local reasons = {
  [200] = "OK", [400] = "Bad Request", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [408] = "Request Timeout",
  [413] = "Payload Too Large", [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [501] = "Not Implemented",
  [505] = "HTTP Version Not Supported",
}

local function failure(status, message) return false, status, message end

-- The chunked body starting at POS: body, next position; nil when more
-- bytes are needed; or false, status, message.
local function parse_chunked(buffer, pos, limit)
  local parts, total = {}, 0
  while true do
    local line_end = buffer:find("\r\n", pos, true)
    if not line_end then
      if #buffer - pos > 1024 then return failure(400, "chunk size line too long") end
      return nil
    end
    -- Chunk extensions (";name=value") are allowed and ignored.
    local line = buffer:sub(pos, line_end - 1)
    local hex = line:match("^(%x+)[ \t]*$") or line:match("^(%x+)[ \t]*;")
    if not hex or #hex > 8 then return failure(400, "malformed chunk size") end
    local size = tonumber(hex, 16)
    pos = line_end + 2
    if size == 0 then
      if buffer:sub(pos, pos + 1) == "\r\n" then return table.concat(parts), pos + 2 end
      local trailers_end = buffer:find("\r\n\r\n", pos, true)
      if trailers_end then return table.concat(parts), trailers_end + 4 end
      return nil
    end
    total = total + size
    if total > limit then return failure(413, "request body too large") end
    if #buffer < pos + size + 1 then return nil end
    if buffer:sub(pos + size, pos + size + 1) ~= "\r\n" then
      return failure(400, "chunk data does not end with CRLF")
    end
    parts[#parts + 1] = buffer:sub(pos, pos + size - 1)
    pos = pos + size + 2
  end
end

local token = "^[!#$%%&'*+%-.^_`|~%w]+$"

local function parse_head(head)
  local lines = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do lines[#lines + 1] = line end
  local method, target, major, minor = lines[1]:match("^(%S+) (%S+) HTTP/(%d)%.(%d)$")
  if not method or not method:match(token) then return failure(400, "malformed request line") end
  if major ~= "1" then return failure(505, "only HTTP/1.x is served") end
  local headers = {}
  for i = 2, #lines do
    local name, value = lines[i]:match("^([^:]+):[ \t]*(.-)[ \t]*$")
    if not name or not name:match(token) then return failure(400, "malformed header line " .. (i - 1)) end
    name = name:lower()
    if headers[name] and name == "content-length" and headers[name] ~= value then
      return failure(400, "conflicting Content-Length headers")
    end
    headers[name] = headers[name] and name ~= "content-length" and headers[name] .. ", " .. value or value
  end
  return {
    method = method, target = target, path = target:match("^[^?#]*"),
    version = major .. "." .. minor, headers = headers,
  }
end

-- The request at the start of BUFFER: request, bytes used; nil (and, when
-- known, how many bytes the buffer must hold and the request's head) when
-- more bytes are needed; or false, status, message when it is malformed.
function M.parse_request(buffer)
  -- RFC 9112 asks servers to ignore empty lines before a request line.
  local start = buffer:match("^[\r\n]*()")
  local head_end = buffer:find("\r\n\r\n", start, true)
  if not head_end then
    if #buffer - start + 1 > M.max_head_bytes then return failure(431, "request head too large") end
    -- A first line that cannot be a request line is refused at once, not
    -- after the client gives up waiting.
    local first = buffer:match("^([^\n]*)\n", start)
    if first and not first:match("^%S+ %S+ HTTP/%d%.%d\r$") then
      return failure(400, "malformed request line")
    end
    return nil
  end
  if head_end - start > M.max_head_bytes then return failure(431, "request head too large") end
  local request, status, message = parse_head(buffer:sub(start, head_end - 1))
  if not request then return request, status, message end
  local body_start = head_end + 4
  local encoding, length = request.headers["transfer-encoding"], request.headers["content-length"]
  if encoding then
    -- Both headers at once is how requests are smuggled; refuse it.
    if length then return failure(400, "both Transfer-Encoding and Content-Length") end
    if encoding:lower() ~= "chunked" then return failure(501, "unsupported Transfer-Encoding " .. encoding) end
    local body, next_pos, chunk_message = parse_chunked(buffer, body_start, M.max_body_bytes)
    if body == nil then return nil, nil, request end
    if not body then return body, next_pos, chunk_message end
    request.body = body
    return request, next_pos - 1
  end
  if length then
    if not length:match("^%d+$") or #length > 12 then return failure(400, "malformed Content-Length") end
    length = tonumber(length)
    if length > M.max_body_bytes then return failure(413, "request body too large") end
  end
  length = length or 0
  -- How many bytes the request takes (the caller need not try again
  -- before), and its head (which may ask for "100 Continue").
  if #buffer < body_start + length - 1 then return nil, body_start + length - 1, request end
  request.body = buffer:sub(body_start, body_start + length - 1)
  return request, body_start + length - 1
end

local function head(status, headers)
  local lines = {}
  for name, value in pairs(headers) do lines[#lines + 1] = name .. ": " .. value end
  table.sort(lines)
  table.insert(lines, 1, ("HTTP/1.1 %d %s"):format(status, reasons[status] or "Status"))
  return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

-- Encodes RESPONSE ({status, headers, body} or {status, headers, chunks})
-- as bytes; chunks go out with chunked transfer encoding, as a stream.
local function encode(response, keep_alive, is_head)
  local headers = {}
  for name, value in pairs(response.headers or {}) do headers[name] = value end
  headers["Connection"] = keep_alive and "keep-alive" or "close"
  if response.chunks then
    headers["Transfer-Encoding"] = "chunked"
    local out = { head(response.status, headers) }
    if not is_head then
      for _, chunk in ipairs(response.chunks) do
        if #chunk > 0 then out[#out + 1] = ("%x\r\n%s\r\n"):format(#chunk, chunk) end
      end
      out[#out + 1] = "0\r\n\r\n"
    end
    return table.concat(out)
  end
  local body = response.body or ""
  headers["Content-Length"] = tostring(#body)
  return head(response.status, headers) .. (is_head and "" or body)
end

local function wants_keep_alive(request)
  local connection = (request.headers.connection or ""):lower()
  if request.version == "1.0" then return connection:find("keep-alive", 1, true) ~= nil end
  return not connection:find("close", 1, true)
end

-- Serves one accepted CLIENT. HANDLER(request, reply) calls reply(response)
-- once, now or later; ON_PROBLEM(status, message) answers what cannot be
-- parsed; ON_CLOSED() runs once the connection is gone. Returns a function
-- that closes the connection.
local function serve_connection(client, handler, on_problem, on_closed, incomplete_timeout_ms)
  -- Bytes received and not yet used, as pieces joined only when a request
  -- can be complete: a large body costs one copy, not one per read.
  local pieces, buffered, needed = {}, 0, 1
  local busy, processing, closed, ending, peer_done, continued = false, false, false, false, false, false
  local timer = uv.new_timer()

  local function close()
    if closed then return end
    closed = true
    timer:close()
    if not client:is_closing() then client:close() end
    on_closed()
  end

  -- Closing at once would cancel queued writes; shutdown waits for them.
  local function finish()
    if ending or closed then return end
    ending = true
    if not client:shutdown(close) then close() end
  end

  local function send(bytes, then_finish)
    if closed or ending then return end
    client:write(bytes)
    if then_finish then finish() end
  end

  local function answer_problem(status, message)
    busy = true
    client:read_stop()
    send(encode(on_problem(status, message), false), true)
  end

  local process

  -- Parses and dispatches the request at the start of the buffer; returns
  -- true when the next one may be looked at now.
  local function next_request()
    local buffer = table.concat(pieces)
    local request, used_or_status, message_or_head = M.parse_request(buffer)
    if request == false then
      answer_problem(used_or_status, message_or_head)
      return false
    end
    if not request then
      pieces, needed = { buffer }, used_or_status or #buffer + 1
      -- curl, for one, waits for this before sending a large body.
      local partial = message_or_head
      if partial and (partial.headers.expect or ""):lower() == "100-continue" and not continued then
        continued = true
        send("HTTP/1.1 100 Continue\r\n\r\n")
      end
      if buffer:match("^[\r\n]*$") then
        timer:stop()
        if peer_done then finish() end
      elseif peer_done then
        answer_problem(400, "the request was cut short")
      else
        timer:start(incomplete_timeout_ms, 0, function()
          answer_problem(408, "the request stayed incomplete")
        end)
      end
      return false
    end
    timer:stop()
    local rest = buffer:sub(used_or_status + 1)
    -- Once the peer is done, what is left is all there will be.
    pieces, buffered, needed, continued = { rest }, #rest, peer_done and 0 or 1, false
    busy = true
    local keep_alive, replied = wants_keep_alive(request), false
    local function reply(response)
      assert(not replied, "a request was answered twice")
      replied = true
      send(encode(response, keep_alive, request.method == "HEAD"), not keep_alive)
      if keep_alive then
        busy = false
        process()
      end
    end
    local ok, err = xpcall(handler, debug.traceback, request, reply)
    if not ok and not replied then reply(on_problem(500, err)) end
    return true
  end

  -- A reply given at once lands here while the loop runs, and the loop
  -- goes on: no recursion, however many requests a client pipelines.
  process = function()
    if processing then return end
    processing = true
    while not busy and not closed and buffered >= needed and next_request() do end
    processing = false
  end

  client:read_start(function(err, data)
    if err or not data then
      peer_done = true
      client:read_stop()
      if err then return close() end
      needed = 0 -- nothing more will come: look at what there is
      return process()
    end
    pieces[#pieces + 1] = data
    buffered = buffered + #data
    process()
  end)
  return close
end

-- Listens on HOST, on a port the kernel picks. HANDLER(request, reply) as
-- in serve_connection; ON_PROBLEM(status, message) returns the response
-- for a request that could not be parsed or whose handler raised. A request
-- still incomplete after INCOMPLETE_TIMEOUT_MS is answered 408: a client
-- that sent half a request and went quiet must not hold a connection.
-- Returns a server with .port and .close(), or nil and a message.
function M.listen(host, handler, on_problem, incomplete_timeout_ms)
  local tcp = uv.new_tcp()
  local ok, err = tcp:bind(host, 0)
  if not ok then tcp:close(); return nil, err end
  local connections = {}
  ok, err = tcp:listen(128, function(listen_err)
    if listen_err then return end
    local client = uv.new_tcp()
    if not tcp:accept(client) then client:close(); return end
    connections[client] = serve_connection(client, handler, on_problem, function()
      connections[client] = nil
    end, incomplete_timeout_ms)
  end)
  if not ok then tcp:close(); return nil, err end
  return {
    port = tcp:getsockname().port,
    close = function()
      if not tcp:is_closing() then tcp:close() end
      for _, close in pairs(connections) do close() end
    end,
  }
end

return M
