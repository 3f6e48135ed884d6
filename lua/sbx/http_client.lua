-- A small HTTP/1.1 client for talking to sbx's own manager: one request per
-- connection ("Connection: close"), the whole response read to the end.
-- What comes back is checked, not trusted: a malformed response is an
-- error, never a crash. request() waits: call it inside an sbx.async task.
local async = require "sbx.async"
local uv = require "luv"

local M = {}

M.timeout_ms = 30000
-- A response larger than this is refused (a screenshot or a log's last
-- lines are far smaller).
M.max_response = 64 * 1024 * 1024

-- The body of a "Transfer-Encoding: chunked" response, or nil and why.
local function dechunk(data)
  local parts, at = {}, 1
  while true do
    local size_text, after = data:match("^(%x+)[^\r\n]*\r\n()", at)
    if not size_text then return nil, "a malformed chunk" end
    local size = tonumber(size_text, 16)
    if size == 0 then return table.concat(parts) end
    if #data < after + size + 1 or data:sub(after + size, after + size + 1) ~= "\r\n" then
      return nil, "a truncated chunk"
    end
    parts[#parts + 1] = data:sub(after, after + size - 1)
    at = after + size + 2
  end
end

-- A whole response as { status, headers (lower-case names), body }, or nil
-- and why it is not one.
function M.parse_response(data)
  local head, body = data:match("^(.-)\r\n\r\n(.*)$")
  if not head then return nil, "the response ended before its headers did" end
  local status = head:match("^HTTP/1%.[01] (%d%d%d)[^\r\n]*")
  if not status then return nil, "not an HTTP response: " .. head:sub(1, 40):gsub("[^%g ]", "?") end
  local headers = {}
  for name, value in head:gmatch("\r\n([^:\r\n]+):[ \t]*([^\r\n]*)") do headers[name:lower()] = value end
  if (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    local decoded, err = dechunk(body)
    if not decoded then return nil, err end
    body = decoded
  elseif headers["content-length"] then
    local length = math.tointeger(tonumber(headers["content-length"]))
    if not length or length < 0 or length > #body then
      return nil, ("the body is shorter than its Content-Length (%s)"):format(headers["content-length"])
    end
    body = body:sub(1, length)
  end
  return { status = math.tointeger(tonumber(status)), headers = headers, body = body }
end

-- Sends METHOD PATH to HOST:PORT with HEADERS ({name = value}) and BODY
-- (or nil). Returns the parsed response, or nil and a message. Waits.
function M.request(host, port, method, path, headers, body)
  local lines = { ("%s %s HTTP/1.1"):format(method, path),
    ("Host: %s"):format(host:find(":", 1, true) and ("[%s]:%d"):format(host, port) or ("%s:%d"):format(host, port)),
    "Connection: close" }
  for name, value in pairs(headers or {}) do lines[#lines + 1] = name .. ": " .. value end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  local request = table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")

  local tcp = uv.new_tcp()
  local timer = uv.new_timer()
  local result, failure = async.wait(function(done)
    local chunks, size, finished = {}, 0, false
    -- Once: a callback of the closed connection may still come.
    local function finish(...)
      if finished then return end
      finished = true
      timer:stop()
      if not tcp:is_closing() then tcp:close() end
      done(...)
    end
    timer:start(M.timeout_ms, 0, function()
      finish(nil, ("no whole answer from %s:%d within %g s"):format(host, port, M.timeout_ms / 1000))
    end)
    tcp:connect(host, port, function(connect_err)
      if connect_err then return finish(nil, ("cannot connect to %s:%d: %s"):format(host, port, connect_err)) end
      tcp:write(request)
      tcp:read_start(function(read_err, data)
        if read_err then return finish(nil, "reading the answer: " .. read_err) end
        if not data then return finish(table.concat(chunks)) end
        size = size + #data
        if size > M.max_response then return finish(nil, "the answer is larger than " .. M.max_response .. " bytes") end
        chunks[#chunks + 1] = data
      end)
    end)
  end)
  timer:close()
  if not result then return nil, failure end
  return M.parse_response(result)
end

return M
