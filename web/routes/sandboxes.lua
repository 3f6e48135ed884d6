-- The REST API for sandboxes (the shapes and codes of the Nix original).
local response = require "sbx.web.response"
local uv = require "luv"

local function found(app, req)
  return app.sandbox(req.params.id)
end

-- The list is encoded again only when a sandbox changed: it is what
-- dashboards and scripts poll.
local cache = setmetatable({}, { __mode = "k" }) -- app -> { generation, body }

local function list(_, app)
  local generation = app.generation()
  local cached = cache[app]
  if not cached or cached.generation ~= generation then
    local items = response.array {}
    for i, record in ipairs(app.sandboxes()) do items[i] = app.public(record) end
    cached = { generation = generation, body = response.json(200, items).body }
    cache[app] = cached
  end
  return response.text(200, cached.body, "application/json")
end

local function show(req, app)
  local record = found(app, req)
  if not record then return response.not_found("no such sandbox") end
  return response.json(200, app.public(record))
end

local function create(req, app)
  local record, message, field, status = app.create(req.data)
  if not record then return response.error(status or 500, message, field) end
  return response.json(201, app.public(record), { location = "/api/sandboxes/" .. record.id })
end

local function stop(req, app)
  local ok, message, status = app.stop(req.params.id)
  if not ok then return response.error(status or 500, message) end
  return response.no_content()
end

local function delete(req, app)
  local ok, message, status = app.delete(req.params.id)
  if not ok then return response.error(status or 500, message) end
  return response.no_content()
end

-- The log as it is now, streamed: it may be large.
local function logs(req, app)
  local record = found(app, req)
  if not record then return response.not_found("no such sandbox") end
  local fd = uv.fs_open(record.log_path, "r", 0)
  if not fd then return response.not_found("no logs yet") end
  local stat = uv.fs_fstat(fd)
  local size = stat and stat.size or 0
  return response.stream {
    status = 200,
    headers = { ["content-type"] = "text/plain; charset=utf-8" },
    length = size,
    produce = function(write)
      local offset = 0
      while offset < size do
        local chunk = uv.fs_read(fd, math.min(65536, size - offset), offset)
        if not chunk or chunk == "" or not write(chunk) then break end
        offset = offset + #chunk
      end
      uv.fs_close(fd)
    end,
  }
end

return {
  routes = {
    { method = "GET", path = "/api/sandboxes", handler = list },
    { method = "POST", path = "/api/sandboxes", body = { "json", "form" }, handler = create },
    { method = "GET", path = "/api/sandboxes/{id}", handler = show },
    { method = "DELETE", path = "/api/sandboxes/{id}", handler = delete },
    { method = "POST", path = "/api/sandboxes/{id}/stop", handler = stop },
    { method = "GET", path = "/api/sandboxes/{id}/logs", handler = logs },
  },
}
