-- sbx run: Claude Code (or a shell) in a sandbox on a project directory.
local plans = require "sbx.plan"
local requests = require "sbx.run.request"
local spec = require "sbx.spec"

local M = {
  summary = "launch Claude Code in a sandbox on a project directory",
  usage = "run [--backend bubblewrap|container|vm] [--shell] [--tmux] [--gh-token]\n"
    .. "         [--network host|private|none] [--no-network] [--new|--enter|--stop]\n"
    .. "         [--dry-run] <project-dir> [-- claude args...]",
  description = "The project is read-write at its own path and is the working directory;\n"
    .. "the rest of the sandbox comes from the spec (sbx spec). A second run on\n"
    .. "the same project joins the sandbox already running; --new starts another.",
  options = requests.options,
}

-- The plan for REQUEST, after the config's editors; nil and a message when
-- an editor fails.
function M.plan(request, resolved, hooks, host)
  local backend = requests.backend_module(request.backend)
  return plans.apply_editors(backend.plan(request, resolved, host), request, hooks.plan_editors)
end

function M.run(values, positional, rest)
  local resolved, hooks = spec.load()
  if not resolved then return nil, hooks, 1 end
  local request, warning, code = requests.build(values, positional, rest, resolved)
  if not request then return nil, warning, code end
  if warning then io.stderr:write("sbx run: warning: ", warning, "\n") end
  local launch = require(requests.backend_module(request.backend).launcher)
  local host = require("sbx.run.host").gather()
  if request.action == "stop" then return launch.stop(request) end
  if not host.claude and not request.shell then
    return nil, "Claude Code is not installed (sbx doctor --fix installs it; --shell runs bash without it)", 1
  end
  request.dbus_proxy = require("sbx.run.dbus").socket_for(request.project, host)
  if request.dry_run then
    local plan, err = M.plan(request, resolved, hooks, host)
    if not plan then return nil, err, 1 end
    io.stdout:write(plans.to_json(plan), "\n")
    return 0
  end
  return launch.run(request, host, function(req) return M.plan(req, resolved, hooks, host) end)
end

return M
