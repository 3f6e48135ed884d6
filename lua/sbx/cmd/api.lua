-- sbx api: one request to the manager running on this host, found through
-- its state directory (the address it listens on, and its token). What
-- `sbx remote` runs over SSH; handy in scripts on the server too.
local async = require "sbx.async"
local config_module = require "sbx.manager.config"
local fs = require "sbx.fs"
local http_client = require "sbx.http_client"

local METHODS = { GET = true, POST = true, DELETE = true }

-- The manager's address and token from STATE_DIR, or nil and a message.
local function find_manager(state_dir)
  local address = fs.read(config_module.address_file(state_dir))
  local host, port = (address or ""):match("^(%S+) (%d+)\n$")
  if not host then
    return nil, ("no manager is running with state in %s (start one with `sbx manager`)"):format(state_dir)
  end
  local token = fs.read(state_dir .. "/token")
  return { host = host, port = math.tointeger(tonumber(port)), token = token and token:match("^%s*(%S+)") }
end

return {
  summary = "send one request to this host's manager (what `sbx remote` runs over SSH)",
  usage = "api [--state DIR] [--status] GET|POST|DELETE PATH  (a POST's JSON body on stdin)",
  description = "The manager is found through its state directory (--state, else\n"
    .. "MANAGER_STATE_DIR, else ~/.local/state/sbx/manager): the address it listens on\n"
    .. "and its API token. The answer's body goes to stdout; an answer that is not a\n"
    .. "success is also said on stderr, and the exit code is 1.",
  options = {
    { name = "--state", value = "DIR", help = "the manager's state directory" },
    { name = "--status", help = "print the HTTP status on a line of its own before the body" },
  },
  run = function(values, positional)
    if #positional ~= 2 then return nil, "expected a method and a path", 2 end
    local method, path = positional[1], positional[2]
    if not METHODS[method] then return nil, "the method must be GET, POST or DELETE, not " .. method, 2 end
    if not path:match("^/[%w%-%._~/%%?=&]*$") then
      return nil, "the path must start with / and hold only URL characters", 2
    end
    local config, config_err = config_module.load(os.getenv, { state_dir = values.state })
    if not config then return nil, config_err, 2 end
    local manager, err = find_manager(config.state_dir)
    if not manager then return nil, err, 1 end

    local headers, body = {}, nil
    if manager.token then headers.Authorization = "Bearer " .. manager.token end
    if method == "POST" then
      body = io.stdin:read("a") or ""
      headers["Content-Type"] = "application/json"
    end
    local response
    response, err = async.run(http_client.request, manager.host, manager.port, method, path, headers, body)
    if not response then return nil, "the manager did not answer: " .. err, 1 end
    if values.status then io.stdout:write(response.status, "\n") end
    io.stdout:write(response.body)
    if response.status >= 300 then
      local ok, decoded = pcall(require("cjson").decode, response.body)
      local reason = ok and type(decoded) == "table" and decoded.error or response.body:sub(1, 200)
      io.stderr:write(("sbx api: %s %s: HTTP %d: %s\n"):format(method, path, response.status, tostring(reason)))
      return 1
    end
    return 0
  end,
}
