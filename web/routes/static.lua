-- Static files: web/static/<path> from the binary (or the tree), then the
-- asset directories (MANAGER_ASSETS_DIR, <prefix>/share/sbx/static).
local host = require "sbx.host"
local fs = require "sbx.fs"
local response = require "sbx.web.response"
local uv = require "luv"

local TYPES = {
  js = "text/javascript; charset=utf-8", mjs = "text/javascript; charset=utf-8",
  css = "text/css; charset=utf-8", html = "text/html; charset=utf-8", svg = "image/svg+xml",
  json = "application/json", map = "application/json", png = "image/png", jpg = "image/jpeg",
  jpeg = "image/jpeg", ico = "image/x-icon", woff2 = "font/woff2", woff = "font/woff",
  txt = "text/plain; charset=utf-8",
}

-- A relative path with no "..", no empty or hidden segment.
local function safe(path)
  for segment in (path .. "/"):gmatch("([^/]*)/") do
    if segment == "" or segment:sub(1, 1) == "." then return false end
  end
  return not path:find("[%z\\]")
end

-- Reads DIR/PATH only if it really lies under DIR (no symlink out).
local function read_under(dir, path)
  local root = uv.fs_realpath(dir)
  local real = root and uv.fs_realpath(dir .. "/" .. path)
  if not real or real:sub(1, #root + 1) ~= root .. "/" then return nil end
  local stat = uv.fs_stat(real)
  if not stat or stat.type ~= "file" then return nil end
  return fs.read(real)
end

local function serve(req, app)
  local path = req.params.path
  if not safe(path) then return response.not_found() end
  local data = host.read_source("web/static/" .. path)
  for _, dir in ipairs(app.config.assets_dirs or {}) do
    if data then break end
    data = read_under(dir, path)
  end
  if not data then return response.not_found() end
  local extension = path:match("%.([%w]+)$")
  return response.bytes(200, data, TYPES[extension and extension:lower()] or "application/octet-stream",
    { ["cache-control"] = "no-cache" })
end

return {
  routes = {
    { method = "GET", path = "/static/{path*}", public = true, handler = serve },
  },
}
