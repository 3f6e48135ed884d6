-- htmx fragments: the parts of the pages that refresh themselves.
local response = require "sbx.web.response"
local views = require "sbx.dashboard.views"

local function fragment(render)
  return function(req, app)
    local record
    if req.params.id then
      record = app.sandbox(req.params.id)
      if not record then return response.not_found("no such sandbox") end
    end
    return response.html(200, render(app, record))
  end
end

return {
  routes = {
    { method = "GET", path = "/fragments/sandbox-list",
      handler = fragment(function(app) return views.sandbox_list(app) end) },
    { method = "GET", path = "/fragments/system-metrics",
      handler = fragment(function() return views.system_metrics() end) },
    { method = "GET", path = "/fragments/sandboxes/{id}/claude-metrics",
      handler = fragment(function(_, record) return views.claude_metrics(record) end) },
    { method = "GET", path = "/fragments/sandboxes/{id}/screenshot",
      handler = fragment(function(app, record) return views.screenshot(app, record) end) },
  },
}
