-- An initramfs: a cpio archive in the "newc" format the kernel unpacks
-- (linux/Documentation/driver-api/early-userspace/buffer-format.rst).
-- Each entry is a 110-byte header of "070701" and thirteen 8-digit hex
-- fields, the name with its NUL, padded to 4 bytes, then the data, padded
-- to 4 bytes; a "TRAILER!!!" entry ends the archive. Pure: entries in, the
-- archive as a string out.
local M = {}

local TYPE = { file = 0x8000, dir = 0x4000, symlink = 0xA000, char = 0x2000 }

local function padding(length)
  return ("\0"):rep((4 - length % 4) % 4)
end

local function header(fields)
  local text = "070701" .. ("%08X"):rep(13):format(
    fields.ino, fields.mode, fields.uid or 0, fields.gid or 0, fields.nlink, 0, fields.size,
    0, 0, fields.major or 0, fields.minor or 0, fields.namesize, 0)
  return text
end

-- "a/b/c" -> {"a", "a/b"}
local function parents(path)
  local list, at = {}, 1
  while true do
    local slash = path:find("/", at, true)
    if not slash then return list end
    list[#list + 1] = path:sub(1, slash - 1)
    at = slash + 1
  end
end

local function check_path(path)
  if type(path) ~= "string" or path == "" or path:find("%z") or path:sub(1, 1) == "/" then
    error("an initramfs path is relative, not empty and has no NUL: " .. tostring(path), 3)
  end
  for part in path:gmatch("[^/]+") do
    if part == "." or part == ".." then error("an initramfs path has no . or ..: " .. path, 3) end
  end
end

-- ENTRIES, in order: { path = "sbx/config" (relative), kind = "file" |
-- "dir" | "symlink" | "char", mode = permission bits (an integer; links
-- 0777),
-- data = a file's bytes, target = a link's target, major, minor = a device's
-- numbers, uid, gid (default 0) }. Parent directories not listed come
-- first, 0755. Returns the archive.
function M.archive(entries)
  local parts, seen, ino = {}, {}, 0
  local function add(entry)
    ino = ino + 1
    local kind = TYPE[entry.kind] or error("unknown initramfs entry kind " .. tostring(entry.kind), 3)
    local data = entry.kind == "file" and (entry.data or "") or entry.kind == "symlink" and entry.target or ""
    if entry.kind == "symlink" and (type(data) ~= "string" or data == "") then
      error("an initramfs link needs a target: " .. entry.path, 3)
    end
    local name = entry.path .. "\0"
    local mode = entry.mode or (entry.kind == "symlink" and tonumber("777", 8)) or 0
    local head = header {
      ino = ino, mode = kind | mode, uid = entry.uid, gid = entry.gid,
      nlink = entry.kind == "dir" and 2 or 1, size = #data, major = entry.major, minor = entry.minor,
      namesize = #name,
    }
    parts[#parts + 1] = head .. name .. padding(#head + #name)
    parts[#parts + 1] = data .. padding(#data)
  end
  for _, entry in ipairs(entries) do
    check_path(entry.path)
    for _, parent in ipairs(parents(entry.path)) do
      if not seen[parent] then
        seen[parent] = true
        add { path = parent, kind = "dir", mode = tonumber("755", 8) }
      end
    end
    if seen[entry.path] then error("an initramfs path is listed twice: " .. entry.path, 2) end
    seen[entry.path] = true
    add(entry)
  end
  local trailer = "TRAILER!!!\0"
  local head = header { ino = 0, mode = 0, nlink = 1, size = 0, namesize = #trailer }
  parts[#parts + 1] = head .. trailer .. padding(#head + #trailer)
  return table.concat(parts)
end

return M
