-- The browser libraries from npm (htmx, xterm.js), served as installed:
-- no build step. See lua/sbx/dashboard/vendor.lua for where they are found.
local response = require "sbx.web.response"
local vendor = require "sbx.dashboard.vendor"

return {
  routes = {
    { method = "GET", path = "/vendor/{file}", public = true, handler = function(req)
      local asset = vendor.get(req.params.file)
      if not asset then return response.not_found("no such asset") end
      local headers = { etag = asset.etag, ["cache-control"] = "public, max-age=3600" }
      if req.headers["if-none-match"] == asset.etag then
        return { status = 304, headers = headers, body = "" }
      end
      return response.bytes(200, asset.data, asset.content_type, headers)
    end },
  },
}
