-- The router: matches a request to a route, applies the checks every route
-- shares (docs/web.md, "The order of checks") and calls the handler. It
-- knows nothing of sockets: a request is a plain table, so tests drive it
-- directly.
local log = require "sbx.log"
local request = require "sbx.web.request"
local response = require "sbx.web.response"

local M = {}
local Router = {}
Router.__index = Router

local METHODS = { GET = true, POST = true, PUT = true, PATCH = true, DELETE = true }
local STATE_CHANGING = { POST = true, PUT = true, PATCH = true, DELETE = true }

-- Added to every response that does not set them.
M.default_headers = {
  ["x-content-type-options"] = "nosniff",
  ["x-frame-options"] = "DENY",
  ["referrer-policy"] = "no-referrer",
  ["content-security-policy"] = "default-src 'self'; img-src 'self' data: blob:; "
    .. "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  ["cache-control"] = "no-store",
}

-- "/api/sandboxes/{id}" -> { {literal="api"}, {literal="sandboxes"}, {param="id"} }
local function compile(path, where)
  assert(type(path) == "string" and path:sub(1, 1) == "/", where .. ": path must start with /")
  local segments = {}
  for text in path:gmatch("[^/]+") do
    local rest = text:match("^{([%w_]+)%*}$")
    local param = text:match("^{([%w_]+)}$")
    if rest then
      segments[#segments + 1] = { rest = rest }
    elseif param then
      segments[#segments + 1] = { param = param }
    else
      assert(not text:find("[{}]"), where .. ": malformed segment '" .. text .. "'")
      segments[#segments + 1] = { literal = text }
    end
  end
  for i, segment in ipairs(segments) do
    assert(not segment.rest or i == #segments, where .. ": {name*} must be the last segment")
  end
  return segments
end

-- Parameters when PATH fits SEGMENTS, and a specificity score: literal
-- segments beat {name}, which beats {name*}.
local function fit(segments, parts)
  local params, score = {}, 0
  for i, segment in ipairs(segments) do
    local part = parts[i]
    if segment.rest then
      if not part then return nil end
      params[segment.rest] = table.concat(parts, "/", i)
      return params, score * 3
    end
    if not part then return nil end
    if segment.literal then
      if segment.literal ~= part then return nil end
      score = score * 3 + 2
    else
      params[segment.param] = part
      score = score * 3 + 1
    end
  end
  if #parts ~= #segments then return nil end
  return params, score
end

local function split_path(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do parts[#parts + 1] = part end
  return parts
end

-- Checks one route declaration; WHERE names it in errors.
local function check_route(route, where)
  assert(type(route) == "table", where .. ": a route must be a table")
  assert(type(route.handler) == "function", where .. ": handler must be a function")
  if route.websocket then
    assert(route.method == nil or route.method == "GET", where .. ": a WebSocket route has no method")
  else
    assert(METHODS[route.method], where .. ": method must be GET, POST, PUT, PATCH or DELETE")
  end
  local body = route.body
  if type(body) == "string" then body = { body } end
  for _, kind in ipairs(body or {}) do
    assert(kind == "json" or kind == "form", where .. ": body must be \"json\" and/or \"form\"")
  end
  return body
end

-- OPTIONS:
--   routes        list of { route, where = "web.routes.x" }
--   app           given to every handler
--   authenticate  fn(req) -> how ("token", "cookie", ...) or nil
--   check_origin  fn(req) -> true, or nil and why
--   check_host    fn(req) -> true, or nil and why (every matched request)
function M.new(options)
  local function yes() return true end
  local self = setmetatable({ entries = {}, app = options.app,
    authenticate = options.authenticate or function() return "none" end,
    check_origin = options.check_origin or yes, check_host = options.check_host or yes }, Router)
  local seen = {}
  for _, item in ipairs(options.routes or {}) do
    local route, where = item.route, item.where or "route"
    local accepts = check_route(route, where)
    local method = route.websocket and "WEBSOCKET" or route.method
    local key = method .. " " .. route.path
    assert(not seen[key], ("%s: %s is already defined by %s"):format(where, key, seen[key]))
    seen[key] = where
    self.entries[#self.entries + 1] = { route = route, method = method, accepts = accepts,
      segments = compile(route.path, where), where = where }
  end
  return self
end

-- The best route for METHOD and PATH, its parameters, and when only the
-- method is wrong, the methods the path allows.
function Router:match(method, path)
  local parts = split_path(path)
  local best, best_params, best_score
  local allowed = {}
  for _, entry in ipairs(self.entries) do
    local params, score = fit(entry.segments, parts)
    if params then
      if entry.method == method then
        if not best or score > best_score then
          best, best_params, best_score = entry, params, score
        end
      elseif entry.method ~= "WEBSOCKET" then
        allowed[entry.method] = true
        if entry.method == "GET" then allowed.HEAD = true end
      end
    end
  end
  if best then return best, best_params end
  local list = {}
  for name in pairs(allowed) do list[#list + 1] = name end
  table.sort(list)
  return nil, nil, #list > 0 and table.concat(list, ", ") or nil
end

local function with_defaults(result)
  result.headers = result.headers or {}
  for name, value in pairs(M.default_headers) do
    if result.headers[name] == nil then result.headers[name] = value end
  end
  return result
end

local function unauthorized(req)
  if req.path:sub(1, 5) == "/api/" then
    return response.error(401, "authentication required: Authorization: Bearer <token>")
  end
  return response.html(401, "<!doctype html><title>sbx manager: log in</title>"
    .. "<p>Log in with the link <code>sbx manager</code> printed when it started "
    .. "(or ask it for a new one: <code>POST /api/login-links</code> with the token).</p>")
end

-- The Host check, authentication and the Origin check; a response when the
-- request fails one.
function Router:guard(entry, req)
  local host_ok, host_why = self.check_host(req)
  if not host_ok then return response.error(403, host_why or "Host not allowed") end
  req.auth = self.authenticate(req)
  if not entry.route.public and not req.auth then return unauthorized(req) end
  local changes_state = entry.route.changes_state
  if changes_state == nil then
    changes_state = entry.method == "WEBSOCKET" or STATE_CHANGING[entry.method] or false
  end
  if changes_state then
    local ok, why = self.check_origin(req)
    if not ok then return response.error(403, why or "cross-origin request refused") end
  end
end

local function read_body(entry, req)
  if not entry.accepts then return end
  local media = request.media_type(req.headers["content-type"])
  for _, kind in ipairs(entry.accepts) do
    if kind == "json" and media == "application/json" then
      local data, why = request.parse_json_object(req.body)
      if not data then return response.error(400, why) end
      req.data = data
      return
    elseif kind == "form" and media == "application/x-www-form-urlencoded" then
      req.data = request.parse_form(req.body)
      return
    end
  end
  local names = { json = "application/json", form = "application/x-www-form-urlencoded" }
  local wanted = {}
  for i, kind in ipairs(entry.accepts) do wanted[i] = names[kind] end
  return response.error(415, "Content-Type must be " .. table.concat(wanted, " or "))
end

-- Runs the handler; its error becomes a 500 whose details go to the log only.
local function call_handler(entry, ...)
  local ok, result = xpcall(entry.route.handler, debug.traceback, ...)
  if not ok then
    log.error(("%s: %s"):format(entry.where, result))
    return nil
  end
  return true, result
end

-- Answers one HTTP request (a table as docs/web.md describes, with at least
-- method, path, headers and body). Must run in a coroutine when handlers
-- wait. Returns a response table.
function Router:handle(req)
  req.headers = req.headers or {}
  req.body = req.body or ""
  req.query = req.query or {}
  if req.method == "HEAD" then
    req.method, req.head = "GET", true
  end
  req.cookies = request.parse_cookies(req.headers.cookie)
  local entry, params, allowed = self:match(req.method, req.path)
  if not entry then
    if allowed then
      return with_defaults(response.error(405, "method not allowed", nil, { allow = allowed }))
    end
    local ws = self:match("WEBSOCKET", req.path)
    if ws and req.method == "GET" then
      return with_defaults(response.error(426, "this path takes a WebSocket", nil, { upgrade = "websocket" }))
    end
    return with_defaults(response.not_found())
  end
  req.params = params
  local refusal = self:guard(entry, req) or read_body(entry, req)
  if refusal then return with_defaults(refusal) end
  local ok, result = call_handler(entry, req, self.app)
  if not ok then return with_defaults(response.error(500, "internal error")) end
  if type(result) ~= "table" or type(result.status) ~= "number" then
    log.error(entry.where .. ": the handler returned no response")
    return with_defaults(response.error(500, "internal error"))
  end
  return with_defaults(result)
end

-- Before a WebSocket upgrade: nil to accept, or a status and a JSON body.
function Router:check_upgrade(req)
  req.headers = req.headers or {}
  req.cookies = request.parse_cookies(req.headers.cookie)
  local entry, params = self:match("WEBSOCKET", req.path)
  if not entry then
    local refusal = response.not_found()
    return refusal.status, refusal.body
  end
  req.params = params
  local refusal = self:guard(entry, req)
  if refusal then return refusal.status, refusal.body end
  return nil
end

-- After the upgrade: runs the route's handler (in a coroutine when it waits).
function Router:websocket(ws, req)
  local entry = self:match("WEBSOCKET", req.path)
  if not entry or self:check_upgrade(req) then
    ws:close(1008, "refused")
    return
  end
  local ok = call_handler(entry, req, ws, self.app)
  if not ok then ws:close(1011, "internal error") end
end

return M
