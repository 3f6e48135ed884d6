-- Browser login: the manager prints a one-time link; following it sets an
-- HttpOnly, SameSite=Strict session cookie. A client with the token can
-- ask for another link.
local auth = require "sbx.manager.auth"
local response = require "sbx.web.response"

local function login(req, app)
  local session = app.auth:login(req.query.code)
  if not session then
    return response.html(403, "<!doctype html><title>sbx manager</title>"
      .. "<p>This login link is not valid: it was used already, or it expired. "
      .. "Ask the manager for a new one.</p>")
  end
  -- A page rather than a redirect: the cookie is then sent on a same-site
  -- navigation, which SameSite=Strict requires.
  return response.html(200, '<!doctype html><meta http-equiv="refresh" content="0;url=/">'
    .. '<title>sbx manager</title><p>Logged in. <a href="/">Continue</a></p>',
    { ["set-cookie"] = auth.session_cookie(session) })
end

local function new_link(_, app)
  return response.json(201, { url = app.config.base_url .. "/login?code=" .. app.auth:new_login_code() })
end

return {
  routes = {
    { method = "GET", path = "/login", public = true, handler = login },
    { method = "POST", path = "/api/login-links", handler = new_link },
  },
}
