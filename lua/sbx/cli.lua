-- The command line: finds the command, parses its options, runs it.
--
-- A command is a module returning:
--   summary      one line for `sbx help`
--   usage        the synopsis after the program name, e.g. "doctor [--json]"
--   description  optional paragraphs for `sbx <command> --help`
--   options      the option list (see sbx.args)
--   run(values, positional, rest, context)
--                returns an exit code, or nil, a message and an exit code
--                (2 for a usage error: the usage is printed too).
local args = require "sbx.args"

local M = {}

-- In the order `sbx help` lists them (but the hidden ones, which sbx runs
-- itself).
M.commands = {
  { "run", "sbx.cmd.run" },
  { "ps", "sbx.cmd.ps" },
  { "doctor", "sbx.cmd.doctor" },
  { "spec", "sbx.cmd.spec" },
  { "version", "sbx.cmd.version" },
  { "help", "sbx.cmd.help" },
  { "lua", "sbx.cmd.lua" },
  { "manager", "sbx.cmd.manager" },
  { "remote", "sbx.cmd.remote" },
  { "api", "sbx.cmd.api" },
  { "attach", "sbx.cmd.attach" },
  { "container-init", "sbx.cmd.container_init", hidden = true },
}

function M.find(name)
  for _, entry in ipairs(M.commands) do
    if entry[1] == name then return require(entry[2]) end
  end
end

function M.usage_text(program, command)
  return ("usage: %s %s"):format(program, command.usage)
end

function M.help_text(program, command)
  local parts = { M.usage_text(program, command), "", command.summary }
  if command.description then
    parts[#parts + 1] = ""
    parts[#parts + 1] = command.description
  end
  parts[#parts + 1] = ""
  parts[#parts + 1] = "options:"
  parts[#parts + 1] = args.describe(command.options or {})
  return table.concat(parts, "\n") .. "\n"
end

function M.overview(program)
  local lines = { ("usage: %s <command> [options]"):format(program), "", "commands:" }
  for _, entry in ipairs(M.commands) do
    if not entry.hidden then lines[#lines + 1] = ("  %-9s %s"):format(entry[1], M.find(entry[1]).summary) end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = ("Run '%s <command> --help' for a command's options."):format(program)
  return table.concat(lines, "\n") .. "\n"
end

local function fail_usage(program, message, usage)
  io.stderr:write(("%s: %s\n%s\n"):format(program, message, usage))
  return 2
end

-- Runs command NAME with ARGV. PROGRAM is how the user called us, for
-- messages. Returns the exit code.
function M.run_command(program, name, argv)
  local command = name and M.find(name)
  if not command then
    local message = name and ("unknown command '%s'"):format(name) or "no command given"
    return fail_usage(program, message, M.overview(program))
  end
  local values, positional, rest = args.parse(command.options or {}, argv)
  if not values then
    return fail_usage(program .. " " .. name, positional, M.usage_text(program, command))
  end
  if values.help then
    io.stdout:write(M.help_text(program, command))
    return 0
  end
  local code, message, failure_code = command.run(values, positional, rest,
    { program = program, name = name })
  if code == nil then
    if failure_code == 2 then
      return fail_usage(program .. " " .. name, message, M.usage_text(program, command))
    end
    io.stderr:write(("%s %s: %s\n"):format(program, name, message))
    return failure_code or 1
  end
  return code
end

return M
