-- `sbx manager` from start to stop: state, authentication, routes, the
-- server, the liveness monitor, and a clean stop on SIGTERM or SIGINT that
-- leaves every sandbox running.
local App = require "sbx.manager.app"
local Auth = require "sbx.manager.auth"
local Fleet = require "sbx.manager.fleet"
local Router = require "sbx.web.router"
local async = require "sbx.async"
local config_module = require "sbx.manager.config"
local fs = require "sbx.fs"
local log = require "sbx.log"
local process = require "sbx.manager.process"
local routes = require "sbx.web.routes"
local server_module = require "sbx.web.server"
local spec = require "sbx.spec"
local uv = require "luv"

local M = {}

local function say(line)
  io.stdout:write("sbx manager: ", line, "\n")
  io.stdout:flush()
end

-- One manager per state directory: manager.pid holds "pid start_time".
local function claim_state_dir(dir)
  local path = dir .. "/manager.pid"
  local text = fs.read(path)
  local pid, start_time = (text or ""):match("^(%d+) (%d+)")
  pid, start_time = tonumber(pid), tonumber(start_time)
  if pid and pid ~= uv.os_getpid() and process.alive(pid, start_time) then
    return nil, ("another manager (pid %d) is using %s"):format(pid, dir)
  end
  local me = process.identify(math.tointeger(uv.os_getpid()))
  local ok, err = fs.write_atomic(path, ("%d %d\n"):format(me.pid, me.start_time), tonumber("600", 8))
  if not ok then return nil, err end
  return path
end

-- A clear message for an address that cannot be bound (lws only logs it).
local function check_bindable(host, port)
  if port == 0 then return true end
  local tcp = uv.new_tcp()
  local ok, err = tcp:bind(host, port)
  tcp:close()
  if not ok then return nil, ("cannot listen on %s port %d: %s"):format(host, port, err) end
  return true
end

-- Waits for SIGTERM or SIGINT; returns its name.
local function wait_for_stop_signal()
  local co = async.current()
  local handles = {}
  for _, name in ipairs { "sigterm", "sigint" } do
    local handle = uv.new_signal()
    handle:start(name, function()
      for _, h in ipairs(handles) do h:close() end
      local ok, err = coroutine.resume(co, name)
      if not ok then error(debug.traceback(co, err), 0) end
    end)
    handles[#handles + 1] = handle
  end
  return coroutine.yield()
end

local function build_router(app, auth, module_names)
  local route_list, starts = routes.load(module_names)
  local router = Router.new {
    routes = route_list,
    app = app,
    authenticate = function(req) return auth:authenticate(req) end,
    check_origin = function(req) return auth:check_origin(req) end,
    check_host = function(req) return auth:check_host(req) end,
  }
  return router, starts
end

local function start_modules(starts, app)
  for _, item in ipairs(starts) do
    local ok, err = xpcall(item.start, debug.traceback, app)
    if not ok then log.error(("%s: start failed: %s"):format(item.where, err)) end
  end
end

-- Runs the manager with CONFIG (sbx.manager.config) until a stop signal.
-- Returns an exit code, or nil and a message. Runs in an async task.
function M.run(config)
  local resolved, spec_err = spec.load()
  if not resolved then return nil, spec_err end
  config.default_network = resolved.defaults.network
  -- What `sbx run` would pass from its caller's environment, less what
  -- tmux (TERM) and the manager (DISPLAY) set themselves.
  config.passed_env = {}
  for _, name in ipairs(resolved.env.allow) do
    if name ~= "TERM" and name ~= "COLORTERM" and name ~= "DISPLAY" then
      config.passed_env[#config.passed_env + 1] = name
    end
  end

  local fleet = Fleet.new(config)
  local ok, err = fleet:prepare()
  if not ok then return nil, err end
  local pid_path, claim_err = claim_state_dir(config.state_dir)
  if not pid_path then return nil, claim_err end

  local token, made
  if config.auth == "token" then
    token, made = Auth.load_token(config.state_dir .. "/token")
    if not token then return nil, made end
  end
  local moved_aside = fleet:load()
  fleet:reconcile()

  local auth = Auth.new { mode = config.auth, token = token, state_dir = config.state_dir,
    origins = config.origins, hosts = config.hosts }
  local app, stop_periodic = App.new(fleet, config, auth)
  local router, starts = build_router(app, auth)

  local bindable, bind_err = check_bindable(config.host, config.port)
  if not bindable then return nil, bind_err end
  if config.socket then uv.fs_unlink(config.socket) end
  local server, listen_err = server_module.start(router, { host = config.host, port = config.port,
    unix_path = config.socket, max_body = config.max_body })
  if not server then
    while require("sbx.http").busy() > 0 do async.sleep(5) end
    return nil, listen_err
  end
  if config.socket then uv.fs_chmod(config.socket, tonumber("600", 8)) end
  local port = server:port()
  app.config.base_url = config_module.base_url(config, port)
  local address_file = config_module.address_file(config.state_dir)
  local address = ("%s %d\n"):format(config_module.local_address(config, port))
  local written, address_err = fs.write_atomic(address_file, address, tonumber("600", 8))
  if not written then log.warn("sbx api cannot find this manager: " .. address_err) end

  start_modules(starts, app)
  app.every(config.monitor_ms, function() fleet:check() end)

  say(("listening on %s%s"):format(app.config.base_url,
    config.socket and (" and " .. config.socket) or ""))
  say(("state in %s: %d sandboxes"):format(config.state_dir, #fleet:list()))
  if moved_aside then say("WARNING: state.json was corrupt and was moved to " .. moved_aside) end
  if config.auth == "token" then
    say(("API token in %s/token%s (send it as Authorization: Bearer <token>)"):format(
      config.state_dir, made and ", new" or ""))
    say(("log in to the dashboard (once) at %s/login?code=%s"):format(app.config.base_url,
      auth:new_login_code()))
  else
    say("MANAGER_AUTH=none: no authentication; anyone who can reach the address can run sandboxes")
  end

  local signal = wait_for_stop_signal()
  say(("%s: stopping (sandboxes keep running)"):format(signal:upper()))
  stop_periodic()
  server_module.stop(server)
  fleet:save()
  if fs.read(address_file) == address then uv.fs_unlink(address_file) end
  uv.fs_unlink(pid_path)
  return 0
end

return M
