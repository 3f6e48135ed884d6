-- sbx help [command]
local cli = require "sbx.cli"

return {
  summary = "list the commands, or show one command's help",
  usage = "help [command]",
  options = {},
  run = function(_, positional, _, context)
    if #positional > 1 then return nil, "expected at most one command name", 2 end
    local name = positional[1]
    if not name then
      io.stdout:write(cli.overview(context.program))
      return 0
    end
    local command = cli.find(name)
    if not command then return nil, ("unknown command '%s'"):format(name), 2 end
    io.stdout:write(cli.help_text(context.program, command))
    return 0
  end,
}
