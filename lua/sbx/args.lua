-- Command-line parsing from a declared option list, so that the parser and
-- the --help text come from one description and cannot disagree.
--
-- An option is a table:
--   name     "--backend"
--   value    "NAME" when the option takes an argument
--   choices  allowed values, checked
--   sets     { key = value } to store instead of true (for aliases)
--   key      where the value goes in the result (default: name without
--            dashes, with - turned into _)
--   help     one line
local M = {}

local function key_of(option)
  return option.key or option.name:gsub("^%-%-", ""):gsub("%-", "_")
end

local function find_option(options, name)
  for _, option in ipairs(options) do
    if option.name == name then return option end
  end
end

-- Parses ARGV (a list of strings) against OPTIONS. Returns
--   values      { key = value } for the options given
--   positional  the other arguments, in order
--   rest        the arguments after "--" (empty when there is none)
-- or nil and a message. "--help" and "-h" give values.help = true.
function M.parse(options, argv)
  local values, positional, rest = {}, {}, {}
  local i = 1
  while i <= #argv do
    local word = argv[i]
    if word == "--" then
      table.move(argv, i + 1, #argv, 1, rest)
      break
    elseif word == "--help" or word == "-h" then
      values.help = true
    elseif word:sub(1, 1) == "-" and word ~= "-" then
      local name, inline = word:match("^(%-%-[^=]+)=(.*)$")
      name = name or word
      local option = find_option(options, name)
      if not option then
        return nil, ("unknown option '%s'"):format(name)
      end
      local key = key_of(option)
      if option.value then
        local value = inline
        if not value then
          i = i + 1
          value = argv[i]
          if value == nil then
            return nil, ("option '%s' needs a value (%s)"):format(name, option.value)
          end
        end
        if option.choices then
          local allowed = false
          for _, choice in ipairs(option.choices) do
            if choice == value then allowed = true end
          end
          if not allowed then
            return nil, ("option '%s' must be one of %s, not '%s'"):format(
              name, table.concat(option.choices, ", "), value)
          end
        end
        values[key] = value
      elseif inline then
        return nil, ("option '%s' takes no value"):format(name)
      elseif option.sets then
        for k, v in pairs(option.sets) do values[k] = v end
      else
        values[key] = true
      end
    else
      positional[#positional + 1] = word
    end
    i = i + 1
  end
  return values, positional, rest
end

-- The option list as help lines, aligned.
function M.describe(options)
  local rows, width = {}, 10
  for _, option in ipairs(options) do
    local left = option.name
    if option.value then left = left .. " " .. option.value end
    rows[#rows + 1] = { left, option.help or "" }
    width = math.max(width, #left)
  end
  rows[#rows + 1] = { "-h, --help", "show this help" }
  local lines = {}
  for _, row in ipairs(rows) do
    lines[#lines + 1] = ("  %-" .. width .. "s  %s"):format(row[1], row[2])
  end
  return table.concat(lines, "\n")
end

return M
