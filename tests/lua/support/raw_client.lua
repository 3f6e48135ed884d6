-- A raw HTTP and WebSocket client on luv sockets, for the server specs: it
-- sends exactly the bytes a test gives and reads exactly what comes back.
-- Loaded with dofile (tests/lua is not a module root). Runs in async tasks.
local async = require "sbx.async"
local uv = require "luv"

local M = {}

local Connection = {}
Connection.__index = Connection

-- Connects to 127.0.0.1:PORT, or to the Unix socket PATH when PORT is a
-- string.
function M.connect(port)
  local co = async.current()
  local handle = type(port) == "string" and uv.new_pipe(false) or uv.new_tcp()
  local self = setmetatable({ handle = handle, buffer = "", closed = false }, Connection)
  local function done(err)
    local ok, e = coroutine.resume(co, err)
    if not ok then error(e) end
  end
  if type(port) == "string" then handle:connect(port, done) else handle:connect("127.0.0.1", port, done) end
  local err = coroutine.yield()
  if err then
    handle:close()
    return nil, err
  end
  handle:read_start(function(read_err, data)
    if data then
      self.buffer = self.buffer .. data
    else
      self.closed = true
      if not handle:is_closing() then handle:close() end
      if read_err then self.error = read_err end
    end
    if self.waiting then
      local waiting = self.waiting
      self.waiting = nil
      local ok, e = coroutine.resume(waiting)
      if not ok then error(e) end
    end
  end)
  return self
end

function Connection:send(data)
  if self.closed then return nil, "closed" end
  self.handle:write(data)
  return true
end

-- Waits until PREDICATE(buffer) is true (then true), or the peer closes or
-- MS pass (then false).
function Connection:wait_until(predicate, ms)
  local deadline = uv.now() + (ms or 5000)
  while true do
    if predicate(self.buffer) then return true end
    if self.closed or uv.now() >= deadline then return false end
    local co = async.current()
    self.waiting = co
    local timer = uv.new_timer()
    timer:start(50, 0, function()
      timer:close()
      if self.waiting == co then
        self.waiting = nil
        coroutine.resume(co)
      end
    end)
    coroutine.yield()
    uv.update_time()
  end
end

-- Waits for the peer to close; true when it did within MS.
function Connection:wait_closed(ms)
  self:wait_until(function() return false end, ms)
  return self.closed
end

function Connection:close()
  if not self.handle:is_closing() then self.handle:close() end
  self.closed = true
end

-- Parses one response at the front of TEXT: status, headers, body, rest;
-- nil when it is not all there yet.
function M.parse_response(text)
  local head, after = text:match("^(.-)\r\n\r\n()")
  if not head then return nil end
  local status = tonumber(head:match("^HTTP/1%.%d (%d%d%d)"))
  local headers = {}
  for name, value in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do
    local key = name:lower()
    headers[key] = headers[key] and (headers[key] .. "\n" .. value) or value
  end
  local length = tonumber(headers["content-length"])
  if not length then return status, headers, text:sub(after), "" end
  if #text - after + 1 < length then return nil end
  return status, headers, text:sub(after, after + length - 1), text:sub(after + length)
end

-- Sends RAW on a new connection and returns the first response: status,
-- headers, body (the connection is then closed).
function M.request(port, raw, ms)
  local connection = assert(M.connect(port))
  connection:send(raw)
  local status, headers, body
  connection:wait_until(function(buffer)
    status, headers, body = M.parse_response(buffer)
    return status ~= nil
  end, ms)
  connection:close()
  return status, headers, body
end

function M.get(port, path, extra)
  return M.request(port, ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"):format(path, extra or ""))
end

-- ---- WebSocket ----

local function frame(opcode, payload)
  local mask = uv.random(4)
  local len = #payload
  local header
  if len < 126 then
    header = string.pack(">BB", 0x80 | opcode, 0x80 | len)
  elseif len < 65536 then
    header = string.pack(">BBI2", 0x80 | opcode, 0x80 | 126, len)
  else
    header = string.pack(">BBI8", 0x80 | opcode, 0x80 | 127, len)
  end
  local masked = payload:gsub("()(.)", function(i, c)
    return string.char(c:byte() ~ mask:byte((i - 1) % 4 + 1))
  end)
  return header .. mask .. masked
end

-- Opens a WebSocket on PATH with EXTRA header lines. Returns the
-- connection, or nil, the HTTP status and body of the refusal.
function M.websocket(port, path, extra)
  local connection = assert(M.connect(port))
  connection:send(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    .. "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n"):format(
    path, type(port) == "number" and port or 0, extra or ""))
  local status, _, body, rest
  connection:wait_until(function(buffer)
    status, _, body, rest = M.parse_response(buffer)
    return status ~= nil
  end)
  if status ~= 101 then
    connection:close()
    return nil, status, body
  end
  connection.buffer = rest .. body
  return connection
end

function Connection:send_text(text) return self:send(frame(0x1, text)) end
function Connection:send_close(code) return self:send(frame(0x8, string.pack(">I2", code or 1000))) end

-- The next frame from the server: opcode and payload, or nil.
function Connection:receive(ms)
  local opcode, payload
  self:wait_until(function(buffer)
    if #buffer < 2 then return false end
    local first, second = buffer:byte(1, 2)
    local len, at = second & 0x7f, 3
    if len == 126 then
      if #buffer < 4 then return false end
      len, at = string.unpack(">I2", buffer, 3), 5
    elseif len == 127 then
      if #buffer < 10 then return false end
      len, at = string.unpack(">I8", buffer, 3), 11
    end
    if #buffer < at + len - 1 then return false end
    opcode, payload = first & 0x0f, buffer:sub(at, at + len - 1)
    self.buffer = buffer:sub(at + len)
    return true
  end, ms)
  return opcode, payload
end

return M
