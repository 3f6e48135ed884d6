-- What the host calls: picks the command from argv[0] and the arguments,
-- runs it, and leaves the event loop empty for the host to close.
local uv = require "luv"
local cli = require "sbx.cli"

local M = {}

-- Names the binary answers to through links, as the Nix original's
-- commands do, and what each means.
M.personalities = {
  ["claude-sandbox"] = { "run", "--backend", "bubblewrap" },
  ["claude-sandbox-container"] = { "run", "--backend", "container" },
  ["claude-sandbox-vm"] = { "run", "--backend", "vm" },
  ["claude-sandbox-manager"] = { "manager" },
  ["claude-remote"] = { "remote" },
}

-- Returns the program name for messages, the command and its arguments.
function M.resolve(argv0, argv)
  local program = (argv0 or "sbx"):match("([^/]*)$")
  local persona = M.personalities[program]
  if persona then
    local words = table.move(persona, 2, #persona, 1, {})
    table.move(argv, 1, #argv, #words + 1, words)
    return program, persona[1], words
  end
  return program, argv[1], table.move(argv, 2, #argv, 1, {})
end

-- Closes whatever a command left open and lets the close callbacks run,
-- while Lua is still alive for them.
local function drain_loop()
  uv.walk(function(handle)
    if not handle:is_closing() then handle:close() end
  end)
  uv.run("default")
end

function M.main(argv0, argv)
  local program, command, words = M.resolve(argv0, argv)
  if command == "--version" then command = "version" end
  if command == "--help" or command == "-h" then command = "help" end
  local ok, code = xpcall(cli.run_command, debug.traceback, program, command, words)
  drain_loop()
  if not ok then
    io.stderr:write(("%s: internal error: %s\n"):format(program, code))
    return 70
  end
  return code
end

return M
