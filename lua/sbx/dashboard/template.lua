-- HTML templates, compiled once into Lua functions. Output is escaped by
-- default: only a value made with `safe(...)` (or returned by `include`)
-- goes out as it is.
--
--   {{ expr }}       the value of a Lua expression, escaped (nil prints nothing)
--   {% statement %}  Lua statements: {% for _, s in ipairs(list) do %} ... {% end %}
--   {# comment #}
--
-- Names are looked up in the render context first, then in the helpers
-- below. Templates live in web/templates/<name>.html (embedded in the
-- binary, or read from the tree with SBX_LUA_DIR).
local host = require "sbx.host"

local M = {}

local SAFE = {}
local safe_meta = { __tostring = function(self) return self[SAFE] end }

-- Marks HTML as already safe to emit.
function M.safe(html)
  return setmetatable({ [SAFE] = tostring(html) }, safe_meta)
end

local entities = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

function M.escape(value)
  if value == nil then return "" end
  if getmetatable(value) == safe_meta then return value[SAFE] end
  return (tostring(value):gsub("[&<>\"']", entities))
end

-- Turns template text into Lua source. Newlines are kept where they were,
-- so an error's line number is the template's.
local function translate(source, name)
  -- The prelude shares the template's first line.
  local parts = { "local _ctx, _helpers = ... local _ENV = _helpers.environment(_ctx) ",
    "local _out, _escape = {}, _helpers.escape " }
  local position = 1
  while true do
    local start, tag_end, kind = source:find("{([{%%#])", position)
    local text = source:sub(position, start and start - 1 or #source)
    if text ~= "" then
      -- %q writes a newline as a backslash and a real line break, so the
      -- chunk's lines stay the template's.
      parts[#parts + 1] = ("_out[#_out + 1] = %q "):format(text)
    end
    if not start then break end
    local closing = ({ ["{"] = "}}", ["%"] = "%}", ["#"] = "#}" })[kind]
    local close_start, close_end = source:find(closing, tag_end + 1, true)
    if not close_start then
      local line = select(2, source:sub(1, start):gsub("\n", "")) + 1
      error(("%s:%d: unclosed {%s"):format(name, line, kind), 0)
    end
    local inner = source:sub(tag_end + 1, close_start - 1)
    if kind == "{" then
      parts[#parts + 1] = ("_out[#_out + 1] = _escape(%s) "):format(inner)
    elseif kind == "%" then
      parts[#parts + 1] = inner .. " "
    else
      parts[#parts + 1] = (inner:gsub("[^\n]", ""))
    end
    position = close_end + 1
  end
  parts[#parts + 1] = "\nreturn table.concat(_out)\n"
  return table.concat(parts)
end

-- Compiles SOURCE; returns render(ctx) -> html string. Raises on a syntax
-- error (a template is code shipped with sbx).
function M.compile(source, name)
  name = name or "template"
  local chunk, err = load(translate(source, name), "=" .. name, "t", { table = table })
  if not chunk then error(err, 0) end
  return function(ctx)
    return chunk(ctx or {}, M.helpers)
  end
end

local compiled = {}

-- The compiled template web/templates/NAME.html.
function M.get(name)
  local render = compiled[name]
  if not render then
    local path = "web/templates/" .. name .. ".html"
    local source, err = host.read_source(path)
    if not source then error(err, 2) end
    render = M.compile(source, path)
    compiled[name] = render
  end
  return render
end

-- Renders NAME with CTX; the result is HTML (a string).
function M.render(name, ctx)
  return M.get(name)(ctx)
end

-- Available inside templates.
M.helpers = {
  escape = M.escape,
  safe = M.safe,
  ipairs = ipairs,
  pairs = pairs,
  tostring = tostring,
  tonumber = tonumber,
  type = type,
  next = next,
  select = select,
  string = string,
  math = math,
  table = table,
  os = { date = os.date, time = os.time },
  format = require "sbx.dashboard.format",
}

function M.helpers.include(name, ctx)
  return M.safe(M.render(name, ctx))
end

-- Percent-encodes one URL path segment or query value.
function M.helpers.url(value)
  return (tostring(value):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function environment_index(ctx)
  return function(_, key)
    local value = ctx[key]
    if value == nil then value = M.helpers[key] end
    return value
  end
end

function M.helpers.environment(ctx)
  return setmetatable({}, { __index = environment_index(ctx) })
end

return M
