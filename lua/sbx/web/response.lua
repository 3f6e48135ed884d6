-- Response tables for route handlers (see docs/web.md): { status, headers,
-- body } or, streamed, { status, headers, length, produce }.
local cjson = require "cjson"

local M = {}

local array_mt = { __name = "sbx.web.array" }

-- Marks T as a JSON list, so that an empty one is sent as [] and not {}.
function M.array(t)
  return setmetatable(t or {}, array_mt)
end

local function with_type(headers, content_type)
  local all = {}
  for name, value in pairs(headers or {}) do all[name] = value end
  all["content-type"] = all["content-type"] or content_type
  return all
end

function M.json(status, value, headers)
  local body
  if getmetatable(value) == array_mt and next(value) == nil then
    body = "[]"
  else
    body = cjson.encode(value)
  end
  return { status = status, headers = with_type(headers, "application/json"), body = body }
end

function M.text(status, text, content_type, headers)
  return { status = status, headers = with_type(headers, content_type or "text/plain; charset=utf-8"),
           body = text }
end

function M.html(status, html, headers)
  return M.text(status, html, "text/html; charset=utf-8", headers)
end

function M.bytes(status, data, content_type, headers)
  return M.text(status, data, content_type, headers)
end

function M.no_content()
  return { status = 204, headers = {}, body = "" }
end

function M.redirect(location, status)
  return { status = status or 303, headers = { location = location }, body = "" }
end

-- The uniform error: {"error": MESSAGE, "field": FIELD}.
function M.error(status, message, field, headers)
  return M.json(status, { error = message, field = field }, headers)
end

function M.not_found(message)
  return M.error(404, message or "not found")
end

-- A streamed body: PRODUCE(write) runs in the handler's coroutine;
-- write(chunk) waits while the client is slow and returns false once it is
-- gone. LENGTH (bytes) when known.
function M.stream(spec)
  assert(type(spec.produce) == "function", "response.stream needs produce")
  return { status = spec.status or 200, headers = spec.headers or {}, length = spec.length,
           produce = spec.produce }
end

return M
