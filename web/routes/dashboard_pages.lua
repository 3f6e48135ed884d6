-- The dashboard's pages: the list, the form that creates a sandbox, a
-- sandbox's own page and its transcripts.
local response = require "sbx.web.response"
local views = require "sbx.dashboard.views"
local transcript = require "sbx.dashboard.transcript"
local template = require "sbx.dashboard.template"

local function html(body) return response.html(200, body) end

local function with_sandbox(handler)
  return function(req, app)
    local record = app.sandbox(req.params.id)
    if not record then return response.not_found("no such sandbox") end
    return handler(req, app, record)
  end
end

return {
  routes = {
    { method = "GET", path = "/", handler = function(_, app) return html(views.index(app)) end },

    { method = "GET", path = "/new", handler = function()
      return html(views.new_form({ network = "private", backend = "bubblewrap" }))
    end },

    { method = "POST", path = "/new", body = "form", handler = function(req, app)
      local request, message, field = views.create_request(req.data)
      local record, status
      if request then
        record, message, field, status = app.create(request)
      end
      if record then return response.redirect("/sandboxes/" .. template.helpers.url(record.id)) end
      local values = {}
      for k, v in pairs(req.data) do values[k] = v end
      values.network = request and request.network or "none"
      return response.html(status or 422, views.new_form(values, message, field))
    end },

    { method = "GET", path = "/sandboxes/{id}", handler = with_sandbox(function(_, app, record)
      return html(views.sandbox(app, record))
    end) },

    { method = "GET", path = "/sandboxes/{id}/transcript", handler = with_sandbox(function(_, app, record)
      local dir = transcript.sessions_dir(record)
      local body = template.render("transcript_list", { s = views.sandbox_view(app, record),
        sessions = dir and transcript.sessions(dir) or {} })
      return html(views.page(record.name .. " · transcript", body))
    end) },

    { method = "GET", path = "/sandboxes/{id}/transcript/{session}", handler = with_sandbox(
      function(req, app, record)
        local dir = transcript.sessions_dir(record)
        local result, err = transcript.read(dir or "", req.params.session)
        if not result then return response.not_found(err) end
        local body = template.render("transcript", { s = views.sandbox_view(app, record),
          session_id = req.params.session, transcript = result })
        return html(views.page(record.name .. " · session", body))
      end) },
  },
}
