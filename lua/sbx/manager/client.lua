-- A client of the manager running on this host, found through its state
-- directory: the address it listens on (written at start) and its API
-- token. For `sbx api` and `sbx attach`, which `sbx remote` runs over SSH.
local config_module = require "sbx.manager.config"
local fs = require "sbx.fs"
local http_client = require "sbx.http_client"

local M = {}

-- The option of the commands that find the manager this way.
M.state_option = { name = "--state", value = "DIR", help = "the manager's state directory (else MANAGER_STATE_DIR, "
  .. "else ~/.local/state/sbx/manager)" }

-- The manager whose state is STATE_DIR (nil: MANAGER_STATE_DIR, else the
-- default): {state_dir, host, port, token}, or nil, a message and an exit
-- code (2: a bad setting, 1: no manager).
function M.find(state_dir)
  local config, config_err = config_module.load(os.getenv, { state_dir = state_dir })
  if not config then return nil, config_err, 2 end
  local address = fs.read(config_module.address_file(config.state_dir))
  local host, port = (address or ""):match("^(%S+) (%d+)\n$")
  if not host then
    return nil, ("no manager is running with state in %s (start one with `sbx manager`)"):format(config.state_dir), 1
  end
  local token = fs.read(config.state_dir .. "/token")
  return { state_dir = config.state_dir, host = host, port = math.tointeger(tonumber(port)),
    token = token and token:match("^%s*(%S+)") }
end

-- METHOD PATH to MANAGER with BODY (JSON, or nil): the response, or nil
-- and a message. Waits.
function M.request(manager, method, path, body)
  local headers = {}
  if manager.token then headers.Authorization = "Bearer " .. manager.token end
  if body then headers["Content-Type"] = "application/json" end
  local response, err = http_client.request(manager.host, manager.port, method, path, headers, body)
  if not response then return nil, "the manager did not answer: " .. err end
  return response
end

return M
