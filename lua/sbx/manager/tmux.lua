-- The manager's own tmux server (its socket in the state directory, no
-- config file read): one session per sandbox. Every command is an argument
-- vector; tmux's one piece of argument syntax — a word ending in ';' ends a
-- command — is escaped, so no user text can become a tmux command.
local async = require "sbx.async"

local M = {}
local Tmux = {}
Tmux.__index = Tmux

function M.new(socket)
  return setmetatable({ socket = socket }, Tmux)
end

-- tmux reads "word;" as "word" followed by a command separator, and
-- "word\;" as the literal "word;".
function M.escape_argument(word)
  if word:sub(-1) == ";" then return word:sub(1, -2) .. "\\;" end
  return word
end

-- Runs tmux with ARGS (already escaped where they hold user text) in the
-- directory CWD. Returns the result of async.execute.
function Tmux:run(args, cwd)
  local argv = { "tmux", "-S", self.socket, "-f", "/dev/null" }
  table.move(args, 1, #args, #argv + 1, argv)
  return async.execute(argv, { timeout = 10000, cwd = cwd })
end

local function quote_for_shell(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

local function failed(what, result, err)
  if not result then return nil, err end
  return nil, ("tmux %s failed: %s"):format(what, (result.stderr or ""):gsub("%s+$", ""))
end

-- Starts session NAME running ARGV (a vector, never a shell line) with
-- ENV ({ "NAME=value" }) added, in directory CWD, its output appended to
-- LOG_PATH from the first byte: the session and the pipe are made by one
-- tmux command list, before the pane's first output is read. (CWD is not
-- given with -c: tmux expands formats there, and #(...) runs a shell.)
-- The variables named in PASSED are copied from the manager's environment
-- as it is now, not as it was when the tmux server started (a restarted
-- manager may have a new API key), and never on a command line, where
-- other users could read them.
function Tmux:start(name, argv, env, cwd, log_path, passed)
  local args = { "set-option", "-g", "update-environment", table.concat(passed or {}, " "), ";",
    "new-session", "-d", "-s", name, "-x", "200", "-y", "50" }
  for _, pair in ipairs(env) do
    args[#args + 1] = "-e"
    args[#args + 1] = M.escape_argument(pair)
  end
  args[#args + 1] = "--"
  for _, word in ipairs(argv) do args[#args + 1] = M.escape_argument(word) end
  -- pipe-pane takes a shell command: the only text in it is the log path,
  -- which the manager makes from the state directory and a UUID.
  for _, word in ipairs { ";", "pipe-pane", "-o", "-t", "=" .. name .. ":", "cat >> " .. quote_for_shell(log_path) } do
    args[#args + 1] = word
  end
  local result, err = self:run(args, cwd)
  if not result or result.code ~= 0 then return failed("new-session", result, err) end
  return true
end

-- The set of session names; an empty set when the server is not running.
-- nil and a message when tmux itself fails.
function Tmux:sessions()
  local result, err = self:run { "list-sessions", "-F", "#{session_name}" }
  if not result then return nil, err end
  local names = {}
  if result.code ~= 0 then
    local message = result.stderr or ""
    if message:find("no server running", 1, true) or message:find("error connecting", 1, true)
      or message:find("No such file", 1, true) then
      return names
    end
    return failed("list-sessions", result)
  end
  for name in result.stdout:gmatch("[^\n]+") do names[name] = true end
  return names
end

-- The pid of the process running in session NAME's pane, or nil.
function Tmux:pane_pid(name)
  local result = self:run { "list-panes", "-t", "=" .. name .. ":", "-F", "#{pane_pid}" }
  return result and result.code == 0 and tonumber(result.stdout:match("%d+")) or nil
end

function Tmux:kill(name)
  local result, err = self:run { "kill-session", "-t", "=" .. name }
  if not result or result.code ~= 0 then return failed("kill-session", result, err) end
  return true
end

return M
