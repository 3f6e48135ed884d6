-- The dashboard's JSON and image API: screenshots, per-sandbox and host
-- metrics. Also forgets a sandbox's screen and counters when it goes.
local response = require "sbx.web.response"
local figures = require "sbx.dashboard.figures"
local screens = require "sbx.dashboard.screens"
local views = require "sbx.dashboard.views"
local uv = require "luv"

local function screenshot(req, app)
  local record = app.sandbox(req.params.id)
  if not record then return response.not_found("no such sandbox") end
  local variant = req.query.size or "live"
  if not screens.variants[variant] then
    return response.error(422, "size must be live or thumb", "size")
  end
  local frame = screens.frame(record, variant)
  if not frame then return response.not_found("no screenshot") end
  local headers = { etag = frame.etag, ["cache-control"] = "no-store" }
  if req.headers["if-none-match"] == frame.etag then
    return { status = 304, headers = headers, body = "" }
  end
  return response.bytes(200, frame.jpeg, "image/jpeg", headers)
end

local function sandbox_metrics(req, app)
  local record = app.sandbox(req.params.id)
  if not record then return response.not_found("no such sandbox") end
  local metrics = views.sandbox_metrics(record)
  -- cjson writes an empty table as {}: lists become maps here, which are
  -- right either way (tool -> uses, model -> true).
  local claude = metrics.claude
  local tools, unpriced = {}, {}
  for _, tool in ipairs(claude.tools) do tools[tool.name] = tool.count end
  for _, model in ipairs(claude.unpriced_models) do unpriced[model] = true end
  claude.tools, claude.unpriced_models = tools, unpriced
  return response.json(200, {
    id = record.id,
    cpu = metrics.resources.cpu,
    rss_bytes = metrics.resources.rss_bytes,
    processes = metrics.resources.processes,
    claude = claude,
  })
end

local function system_metrics()
  local f = figures.system()
  return response.json(200, {
    cpu = f.cpu, memory = f.memory, load = f.load, net = f.net,
    disks = f.disks,
  })
end

return {
  routes = {
    { method = "GET", path = "/api/sandboxes/{id}/screenshot", handler = screenshot },
    { method = "GET", path = "/api/sandboxes/{id}/metrics", handler = sandbox_metrics },
    { method = "GET", path = "/api/metrics/system", handler = system_metrics },
  },
  start = function(app)
    -- The QMP client writes to monitors that QEMU may close at any time:
    -- the write must fail with EPIPE, not end the manager with SIGPIPE.
    local sigpipe = uv.new_signal()
    sigpipe:start("sigpipe", function() end)
    sigpipe:unref()
    app.on_change(function(record, event)
      if event ~= "created" then
        screens.forget(record.id)
        if event == "deleted" then figures.forget(record.id) end
      end
    end)
  end,
}
