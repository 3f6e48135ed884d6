-- A sandbox's terminal log, live, over a WebSocket (protocol in
-- lua/sbx/dashboard/log_stream.lua).
local stream = require "sbx.dashboard.log_stream"

return {
  routes = {
    { websocket = true, path = "/ws/sandboxes/{id}/logs", handler = function(req, ws, app)
      local record = app.sandbox(req.params.id)
      if not record or not record.log_path then
        ws:close(4404, "no such sandbox")
        return
      end
      local ok, err = stream.serve(ws, record.log_path, req.query)
      if not ok then
        app.log.warn(("log stream for %s: %s"):format(record.id, err))
        ws:close(1011, "log unavailable")
      end
    end },
  },
}
