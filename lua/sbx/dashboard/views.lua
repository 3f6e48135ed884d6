-- Pages and fragments of the dashboard, as HTML strings, from the
-- manager's records. Routes (web/routes/dashboard_*.lua) only pick the
-- view and wrap it in a response.
local template = require "sbx.dashboard.template"
local figures = require "sbx.dashboard.figures"
local screens = require "sbx.dashboard.screens"
local cjson = require "cjson"
local uv = require "luv"

local M = {}

M.backends = {
  { "bubblewrap", "bubblewrap (namespaces)" },
  { "container", "container (systemd-nspawn)" },
  { "vm", "vm (QEMU, strongest)" },
}

function M.page(title, body, options)
  options = options or {}
  return template.render("layout", { title = title, body = template.safe(body),
    section = options.section, terminal = options.terminal })
end

-- The API's view of a record, plus what the pages need.
function M.sandbox_view(app, record)
  local view = {}
  -- JSON nulls become nothing: templates test fields for nil.
  for k, v in pairs(app.public(record)) do
    if v ~= cjson.null then view[k] = v end
  end
  view.has_screen = screens.source_of(record, "-") ~= nil
  return view
end

function M.sandbox_list(app)
  local list = {}
  for _, record in ipairs(app.sandboxes()) do list[#list + 1] = M.sandbox_view(app, record) end
  -- Thumbnails are refreshed at most as often as they are re-encoded.
  local thumb_epoch = uv.now() // screens.variants.thumb.min_interval_ms
  return template.render("sandbox_list", { sandboxes = list, thumb_epoch = thumb_epoch })
end

function M.system_metrics()
  return template.render("system_metrics", { system = figures.system() })
end

function M.index(app)
  local body = template.render("index", { system_html = template.safe(M.system_metrics()),
    list_html = template.safe(M.sandbox_list(app)) })
  return M.page("Sandboxes", body, { section = "list" })
end

function M.sandbox_metrics(record)
  return { resources = figures.resources(record), claude = figures.claude(record) }
end

function M.claude_metrics(record)
  return template.render("claude_metrics", { m = M.sandbox_metrics(record) })
end

function M.screenshot(app, record)
  local frame = screens.frame(record, "live")
  return template.render("screenshot", { s = M.sandbox_view(app, record), etag = frame and frame.etag })
end

function M.sandbox(app, record)
  local view = M.sandbox_view(app, record)
  local frame = view.has_screen and screens.frame(record, "live")
  local cols, rows = figures.terminal_size(record)
  local body = template.render("sandbox", { s = view, has_screen = view.has_screen,
    screen_etag = frame and frame.etag, metrics = M.sandbox_metrics(record), cols = cols, rows = rows })
  return M.page(view.name, body, { terminal = true })
end

function M.new_form(values, error_message, field)
  values = values or {}
  local body = template.render("new", { values = values, error = error_message, field = field,
    backends = M.backends })
  return M.page("New sandbox", body, { section = "new" })
end

local network_modes = { private = true, host = true }

-- The new-sandbox form's fields as app.create wants them. The checkbox
-- decides whether there is a network at all; the mode says which.
function M.create_request(form)
  local mode = form.network_mode or "private"
  if not network_modes[mode] then
    return nil, "network_mode must be private or host", "network_mode"
  end
  return {
    name = form.name,
    backend = form.backend,
    project_dir = form.project_dir,
    network = form.network == "on" and mode or "none",
  }
end

return M
