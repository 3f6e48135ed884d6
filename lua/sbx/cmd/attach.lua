-- sbx attach: this terminal on a manager sandbox's tmux session, on the
-- host the manager runs on (what `sbx remote attach` runs over ssh -t).
-- The manager says which session; its tmux server is in its state
-- directory. Detaching (tmux's prefix, then d) leaves the sandbox running.
local async = require "sbx.async"
local cjson = require "cjson"
local client = require "sbx.manager.client"
local paths = require "sbx.paths"
local uv = require "luv"

-- The running sandbox ID's tmux session name, or nil and a message.
local function session_of(manager, id)
  local response, err = client.request(manager, "GET", "/api/sandboxes/" .. id)
  if not response then return nil, err end
  local ok, sandbox = pcall(cjson.decode, response.body)
  if not ok or type(sandbox) ~= "table" then return nil, "the manager's answer is not JSON" end
  if response.status ~= 200 then return nil, tostring(sandbox.error or ("HTTP " .. response.status)) end
  if sandbox.status ~= "running" then
    return nil, ("sandbox %s is %s, not running"):format(id, tostring(sandbox.status))
  end
  if type(sandbox.tmux_session) ~= "string" or not sandbox.tmux_session:match("^[%w%-]+$") then
    return nil, "the manager named no tmux session for it"
  end
  return sandbox.tmux_session
end

return {
  summary = "attach this terminal to a manager sandbox's tmux session",
  usage = "attach [--state DIR] ID",
  description = "The sandbox's terminal, as the dashboard's log viewer shows it, to use:\n"
    .. "Ctrl-b d detaches and leaves it running. From another host: `sbx remote attach ID`.",
  options = {
    client.state_option,
  },
  run = function(values, positional)
    if #positional ~= 1 then return nil, "expected a sandbox id", 2 end
    local id = positional[1]
    if not id:match("^[%x%-]+$") then return nil, ("'%s' is not a sandbox id"):format(id), 2 end
    if not uv.guess_handle(0) or uv.guess_handle(0) ~= "tty" then
      return nil, "attach needs a terminal (from another host: sbx remote attach, which asks ssh for one)", 2
    end
    local tmux = paths.which("tmux")
    if not tmux then return nil, "tmux is not installed", 1 end
    local manager, err, code = client.find(values.state)
    if not manager then return nil, err, code end
    return async.run(function()
      local session, session_err = session_of(manager, id)
      if not session then return nil, session_err, 1 end
      local result, run_err = async.execute_attached { tmux, "-S", manager.state_dir .. "/tmux.sock",
        "attach-session", "-t", "=" .. session }
      if not result then return nil, run_err, 1 end
      return result.code
    end)
  end,
}
