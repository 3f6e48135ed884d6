-- `sbx run`'s options turned into a request for a backend, with every
-- check that can fail done here, before anything is created.
local project = require "sbx.run.project"
local paths = require "sbx.paths"
local uv = require "luv"

local M = {}

-- backends/<name>.lua for each.
M.backends = { "bubblewrap", "container", "vm" }

M.options = {
  { name = "--backend", value = "NAME", choices = M.backends,
    help = "how to isolate (default: the spec's defaults.backend); container needs root" },
  { name = "--shell", help = "run bash instead of Claude Code" },
  { name = "--tmux", help = "run inside the project's tmux session (orange status bar)" },
  { name = "--gh-token", help = "pass GH_TOKEN and GITHUB_TOKEN into the sandbox" },
  { name = "--network", value = "MODE", choices = { "host", "private", "none" },
    help = "host, private (own namespace, internet through pasta) or none" },
  { name = "--no-network", sets = { network = "none" }, help = "the same as --network none" },
  { name = "--new", help = "start another sandbox even if one runs for this project" },
  { name = "--enter", help = "open a shell in the project's running sandbox" },
  { name = "--stop", help = "end the project's running sandboxes and everything in them" },
  { name = "--dry-run", help = "print the launch plan as JSON and start nothing" },
}

local function is_terminal(fd) return uv.guess_handle(fd) == "tty" end

-- "pty" unless none of stdin, stdout and stderr is a terminal: the engine
-- hands a terminal to a sandbox only through a pty of its own.
function M.terminal_mode()
  if is_terminal(0) or is_terminal(1) or is_terminal(2) then return "pty" end
  return "stdio"
end

-- The network mode and a warning, or nil and a message. The spec's default
-- "private" falls back to "host" without pasta; an explicit one does not.
function M.network(values, spec, have_pasta)
  local mode = values.network
  if mode then
    if mode == "private" and not have_pasta then
      return nil, "--network private needs pasta, which is not installed (apt-get install passt)"
    end
    return mode
  end
  mode = spec.defaults.network
  if mode == "private" and not have_pasta then
    return "host", "pasta is not installed, so this sandbox shares the host's network "
      .. "(apt-get install passt for a private one, or --network none)"
  end
  return mode
end

local function count_set(values, keys)
  local given = {}
  for _, key in ipairs(keys) do
    if values[key] then given[#given + 1] = "--" .. key end
  end
  return given
end

-- A backend is backends/<name>.lua: plan(request, spec, host) gives the
-- plan, `launcher` names the module that carries plans out (run, stop;
-- see lua/sbx/run/launch.lua), and `joined_through` how a further session
-- enters a running sandbox (lua/sbx/run/registry.lua's to_join). NAME is
-- one of M.backends.
function M.backend_module(name)
  return require("backends." .. name)
end

-- Returns the request and a warning (or nil), or nil, a message and the
-- exit code (2: bad usage).
function M.build(values, positional, rest, spec)
  local actions = count_set(values, { "new", "enter", "stop" })
  if #actions > 1 then
    return nil, table.concat(actions, " and ") .. " cannot be used together", 2
  end
  if values.stop and (#rest > 0 or values.shell or values.tmux or values.dry_run) then
    return nil, "--stop takes only the project directory", 2
  end
  if #positional ~= 1 then
    return nil, #positional == 0 and "expected a project directory"
      or ("expected one project directory, got %d arguments (Claude's go after --)"):format(#positional), 2
  end
  local backend = values.backend or spec.defaults.backend
  local found, err = project.resolve(positional[1])
  if not found then return nil, err, 2 end
  local network, warning = M.network(values, spec, paths.which("pasta") ~= nil)
  if not network then return nil, warning, 1 end
  return {
    backend = backend,
    project = found,
    shell = values.shell or values.enter or false,
    tmux = values.tmux or false,
    args = rest,
    network = network,
    network_given = values.network ~= nil,
    gh_token = values.gh_token or false,
    terminal = M.terminal_mode(),
    action = values.stop and "stop" or values.enter and "enter" or values.new and "new" or "run",
    dry_run = values.dry_run or false,
  }, warning
end

return M
