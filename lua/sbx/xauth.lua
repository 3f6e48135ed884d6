-- Xauthority files. Entries name the host they are for, and a sandbox has
-- its own host name, so the sandbox gets a copy of the cookie for its
-- display as a wildcard entry (family 0xffff: any host).
local M = {}

local FAMILY_WILD = 0xffff

-- The entries of an Xauthority file's CONTENTS: {family, address, number,
-- name, data}. Stops at the first truncated entry.
function M.parse(contents)
  local entries, position = {}, 1
  while position <= #contents do
    local ok, family, address, number, name, data, next_position = pcall(string.unpack,
      ">I2 s2 s2 s2 s2", contents, position)
    if not ok then break end
    entries[#entries + 1] = { family = family, address = address, number = number, name = name, data = data }
    position = next_position
  end
  return entries
end

function M.encode(entries)
  local parts = {}
  for i, e in ipairs(entries) do
    parts[i] = string.pack(">I2 s2 s2 s2 s2", e.family, e.address, e.number, e.name, e.data)
  end
  return table.concat(parts)
end

-- The display number of a DISPLAY value (":1", "unix:1.0", "host:10.0").
function M.display_number(display)
  return display and display:match("^[^:]*:(%d+)")
end

-- An Xauthority file with one wildcard entry: COOKIE (16 bytes) for
-- display number NUMBER.
function M.wildcard_file(number, cookie)
  return M.encode { { family = FAMILY_WILD, address = "", number = tostring(number), name = "MIT-MAGIC-COOKIE-1",
    data = cookie } }
end

-- An Xauthority file holding only a wildcard copy of the cookie for
-- DISPLAY, or nil when CONTENTS has none for it.
function M.wildcard_for(contents, display)
  local number = M.display_number(display)
  if not contents or not number then return nil end
  for _, entry in ipairs(M.parse(contents)) do
    if entry.number == number then
      return M.encode { { family = FAMILY_WILD, address = "", number = number, name = entry.name,
        data = entry.data } }
    end
  end
end

return M
