-- The manager's configuration, from its environment (MANAGER_*) and the
-- command line, checked whole before anything starts.
local paths = require "sbx.paths"
local uv = require "luv"

local M = {}

M.default_listen = "127.0.0.1:3000"
M.default_max_body = 1024 * 1024
M.default_monitor_ms = 5000

-- "127.0.0.1:3000", "[::1]:3000", "localhost:3000" -> host, port
function M.parse_listen(text)
  local host, port = text:match("^%[([%x:]+)%]:(%d+)$")
  if not host then host, port = text:match("^([^:]+):(%d+)$") end
  if not host then
    return nil, ("MANAGER_LISTEN must be HOST:PORT or [IPv6]:PORT, not '%s'"):format(text)
  end
  if host == "localhost" then host = "127.0.0.1" end
  local is_ipv4 = host:match("^%d+%.%d+%.%d+%.%d+$")
  if not is_ipv4 and not host:find(":") then
    return nil, ("MANAGER_LISTEN: '%s' is not an IP address (or localhost)"):format(host)
  end
  port = tonumber(port)
  if port > 65535 then return nil, "MANAGER_LISTEN: the port must be 0..65535" end
  return host, port
end

local function words(text)
  local list = {}
  for word in (text or ""):gmatch("[^%s,]+") do list[#list + 1] = word end
  return list
end

local function absolute(name, value)
  if value and value:sub(1, 1) ~= "/" then
    return nil, ("%s must be an absolute path, not '%s'"):format(name, value)
  end
  return true
end

-- GETENV (default os.getenv) reads the environment; OVERRIDES holds the
-- command-line options (listen, state_dir, socket). Returns the config or
-- nil and a message.
function M.load(getenv, overrides)
  getenv = getenv or os.getenv
  overrides = overrides or {}
  local function env(name)
    local value = getenv(name)
    if value == "" then return nil end
    return value
  end
  local config = {
    listen = overrides.listen or env("MANAGER_LISTEN") or M.default_listen,
    state_dir = overrides.state_dir or env("MANAGER_STATE_DIR") or paths.state_dir() .. "/manager",
    socket = overrides.socket or env("MANAGER_SOCKET"),
    public_url = env("MANAGER_PUBLIC_URL"),
    origins = words(env("MANAGER_ORIGINS")),
    hosts = words(env("MANAGER_HOSTS")),
    assets_dirs = {},
    monitor_ms = M.default_monitor_ms,
    max_body = M.default_max_body,
  }
  local host, port = M.parse_listen(config.listen)
  if not host then return nil, port end
  config.host, config.port = host, port

  local auth = env("MANAGER_AUTH") or "token"
  if auth ~= "token" and auth ~= "none" then
    return nil, ("MANAGER_AUTH must be 'token' or 'none', not '%s'"):format(auth)
  end
  config.auth = auth

  for _, check in ipairs { { "MANAGER_STATE_DIR", config.state_dir }, { "MANAGER_SOCKET", config.socket } } do
    local ok, err = absolute(check[1], check[2])
    if not ok then return nil, err end
  end
  config.state_dir = config.state_dir:gsub("/+$", "")

  local function whole_number(name, minimum, what)
    local text = env(name)
    if not text then return true end
    local value = math.tointeger(tonumber(text))
    if not value or value < minimum then
      return nil, ("%s must be %s, not '%s'"):format(name, what, text)
    end
    return value
  end
  local max_body, body_err = whole_number("MANAGER_MAX_BODY", 1, "a number of bytes")
  if not max_body then return nil, body_err end
  local monitor, monitor_err = whole_number("MANAGER_MONITOR_INTERVAL", 100, "milliseconds (at least 100)")
  if not monitor then return nil, monitor_err end
  if max_body ~= true then config.max_body = max_body end
  if monitor ~= true then config.monitor_ms = monitor end

  for dir in (env("MANAGER_ASSETS_DIR") or ""):gmatch("[^:]+") do
    local ok, err = absolute("MANAGER_ASSETS_DIR", dir)
    if not ok then return nil, err end
    config.assets_dirs[#config.assets_dirs + 1] = dir
  end
  -- Installed next to the binary: <prefix>/bin/sbx -> <prefix>/share/sbx/static.
  local exe = uv.exepath()
  local prefix = exe and exe:match("^(.*)/bin/[^/]+$")
  if prefix then config.assets_dirs[#config.assets_dirs + 1] = prefix .. "/share/sbx/static" end

  config.sbx = exe
  config.tmux_socket = config.state_dir .. "/tmux.sock"
  return config
end

-- The address a client on this host connects to: the listen address (a
-- wildcard one's loopback) and the port actually bound.
function M.local_address(config, port)
  local host = config.host
  if host == "0.0.0.0" then host = "127.0.0.1" elseif host == "::" then host = "::1" end
  return host, port or config.port
end

-- Where the manager is reached, for the login link: MANAGER_PUBLIC_URL, or
-- the local address.
function M.base_url(config, port)
  if config.public_url then return (config.public_url:gsub("/+$", "")) end
  local host
  host, port = M.local_address(config, port)
  if host:find(":") then host = "[" .. host .. "]" end
  return ("http://%s:%d"):format(host, port)
end

-- The file in the state directory naming the local address ("HOST PORT"),
-- for `sbx api` on this host.
function M.address_file(state_dir) return state_dir .. "/address" end

return M
