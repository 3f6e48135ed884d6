-- Who may talk to the manager: the API token (a 0600 file made at first
-- start), browser sessions opened with one-time login links, the Unix
-- socket's owner; and the Origin and Host checks that keep other web pages
-- from acting through a logged-in browser or a rebound DNS name.
local cjson = require "cjson"
local fs = require "sbx.fs"
local log = require "sbx.log"
local uv = require "luv"

local M = {}
local Auth = {}
Auth.__index = Auth

M.cookie = "sbx_session"
M.login_code_ttl = 24 * 3600     -- seconds a login link stays usable (once)
M.session_ttl = 30 * 24 * 3600   -- seconds a browser session lasts

local MODE_0600 = tonumber("600", 8)

local function random_hex(bytes)
  return (uv.random(bytes):gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

-- Compares without stopping at the first difference, so the time taken
-- tells nothing about how much of a guess was right.
function M.same_secret(a, b)
  if type(a) ~= "string" or type(b) ~= "string" or #a ~= #b then return false end
  local difference = 0
  for i = 1, #a do difference = difference | (a:byte(i) ~ b:byte(i)) end
  return difference == 0
end

-- The token in PATH, made (mode 0600) when there is none. A token file
-- others can read is made private and reported.
function M.load_token(path)
  local fd = uv.fs_open(path, "wx", MODE_0600)
  if fd then
    local token = random_hex(32)
    local ok, err = uv.fs_write(fd, token .. "\n", 0)
    if ok then ok, err = uv.fs_fsync(fd) end
    uv.fs_close(fd)
    if not ok then return nil, ("cannot write %s: %s"):format(path, err) end
    return token, true
  end
  local stat = uv.fs_stat(path)
  if not stat then return nil, "cannot create " .. path end
  if stat.mode & tonumber("077", 8) ~= 0 then
    log.warn(("%s was readable by others (mode %o); it is now 0600"):format(path, stat.mode & tonumber("777", 8)))
    uv.fs_chmod(path, MODE_0600)
  end
  local text = fs.read(path) or ""
  local token = text:match("^%s*(%x+)%s*$")
  if not token or #token < 32 then
    return nil, path .. " does not hold a token (at least 32 hex digits); remove it to make a new one"
  end
  return token
end

-- OPTIONS: mode ("token" or "none"), token, state_dir (for the sessions
-- file), origins and hosts (extra allowed values).
function M.new(options)
  local self = setmetatable({ mode = options.mode, token = options.token, codes = {}, sessions = {},
    origins = {}, hosts = {}, sessions_path = options.state_dir and options.state_dir .. "/sessions.json" },
    Auth)
  for _, origin in ipairs(options.origins or {}) do self.origins[origin:gsub("/+$", "")] = true end
  for _, name in ipairs(options.hosts or {}) do self.hosts[name:lower()] = true end
  self:load_sessions()
  return self
end

function Auth:load_sessions()
  if not self.sessions_path then return end
  local text = fs.read(self.sessions_path)
  local ok, sessions = pcall(cjson.decode, text or "{}")
  if not ok or type(sessions) ~= "table" then
    log.warn(self.sessions_path .. " is unreadable; browser sessions start afresh")
    return
  end
  local now = os.time()
  for id, expires in pairs(sessions) do
    expires = math.tointeger(expires) -- JSON numbers come back as floats
    if type(id) == "string" and expires and expires > now then self.sessions[id] = expires end
  end
end

function Auth:save_sessions()
  if not self.sessions_path then return end
  local ok, err = fs.write_atomic(self.sessions_path, cjson.encode(self.sessions), MODE_0600)
  if not ok then log.warn(("cannot write %s: %s"):format(self.sessions_path, err)) end
end

-- A new one-time login code.
function Auth:new_login_code()
  local code = random_hex(24)
  self.codes[code] = os.time() + M.login_code_ttl
  return code
end

-- Spends CODE: a new session id, or nil when the code is unknown, used or
-- expired.
function Auth:login(code)
  local expires = type(code) == "string" and self.codes[code]
  if not expires then return nil end
  self.codes[code] = nil
  if expires < os.time() then return nil end
  local session = random_hex(32)
  self.sessions[session] = os.time() + M.session_ttl
  self:save_sessions()
  return session
end

function M.session_cookie(session)
  return ("%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d"):format(M.cookie, session, M.session_ttl)
end

-- How REQ is authenticated: "unix", "none", "token", "cookie", or nil.
function Auth:authenticate(req)
  if req.transport == "unix" then return "unix" end
  if self.mode == "none" then return "none" end
  local bearer = (req.headers.authorization or ""):match("^[Bb]earer%s+(%S+)%s*$")
  if bearer and M.same_secret(bearer, self.token) then return "token" end
  local session = req.cookies and req.cookies[M.cookie]
  local expires = session and self.sessions[session]
  if expires and expires > os.time() then return "cookie" end
  return nil
end

local function host_name(host)
  return (host:match("^%[([^%]]+)%]") or host:match("^([^:]+)") or host):lower()
end

-- With MANAGER_AUTH=none anyone who can reach the port is trusted, so a web
-- page must not reach it through a DNS name rebound to this host: the Host
-- header has to be an address, localhost, or a name listed in MANAGER_HOSTS.
function Auth:check_host(req)
  if self.mode ~= "none" or req.transport == "unix" then return true end
  local name = host_name(req.headers.host or "")
  if name == "localhost" or name:match("^%d+%.%d+%.%d+%.%d+$") or name:find(":") or self.hosts[name] then
    return true
  end
  return nil, ("Host '%s' is not allowed (MANAGER_HOSTS lists names besides addresses)"):format(name)
end

-- A state-changing request (and every WebSocket upgrade) must come from
-- the manager's own pages: no Origin (not a browser), or the origin of the
-- host it was sent to, or one listed in MANAGER_ORIGINS. A browser session
-- must send it.
function Auth:check_origin(req)
  local origin = req.headers.origin
  if not origin then
    if req.auth == "cookie" then return nil, "a browser request must carry an Origin header" end
    return true
  end
  origin = origin:gsub("/+$", "")
  if self.origins[origin] then return true end
  local scheme, rest = origin:match("^(https?)://(.+)$")
  local host = req.headers.host
  if scheme and host and rest:lower() == host:lower() then return true end
  return nil, ("cross-origin request from %s refused"):format(origin)
end

return M
