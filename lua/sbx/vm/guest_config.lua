-- A VM plan as the guest agent's /sbx/config (guest/config.c): one line
-- per operation, words percent-encoded, and the files the plan writes,
-- which travel in the initramfs. Pure.
local M = {}

-- Where the guest mounts the host's two trees (lua/sbx/vm/qemu.lua makes
-- them), and how much it caches of each: the read-only tree is the host's
-- software, which does not change under a session; the other is the
-- project, which the host may change at any time.
M.shares = {
  { tag = "ro", readonly = true, cache = "loose" },
  { tag = "rw", readonly = false, cache = "mmap" },
}

M.files_dir = "/sbx/files"
M.modules_dir = "/sbx/modules"

local function word(text)
  return (tostring(text):gsub("[^%w/._+,:=@-]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function line(...)
  local words = {}
  for i, w in ipairs { ... } do words[i] = word(w) end
  return table.concat(words, " ")
end

local function mode_of(op, default)
  local mode = op.mode or default
  if type(mode) ~= "string" or not mode:match("^[0-7]+$") or #mode > 5 then
    return nil, ("mount operation on %s: mode %s is not octal"):format(op.dest, tostring(mode))
  end
  return mode
end

local function flag(value, yes, no) return value and yes or no end

-- The module's place in the initramfs.
function M.module_path(relative)
  return M.modules_dir .. "/" .. relative:match("([^/]+)$")
end

-- Returns the config's text and the files ({path =, data =}) it names, or
-- nil and what in the plan a VM cannot do. MODULES: paths relative to
-- /lib/modules/<release>, in load order.
function M.build(plan, modules)
  local lines = {
    line("hostname", plan.hostname),
    line("user", plan.uid_map.inside, plan.gid_map.inside),
    line("network", plan.network == "none" and "none" or "user"),
  }
  for _, path in ipairs(modules) do lines[#lines + 1] = line("module", M.module_path(path)) end
  for _, share in ipairs(M.shares) do
    lines[#lines + 1] = line("share", share.tag, flag(share.readonly, "ro", "rw"), share.cache)
  end
  local files = {}
  for _, op in ipairs(plan.mounts) do
    local kind, text, mode, err = op.op
    if type(op.dest) ~= "string" or op.dest:sub(1, 1) ~= "/" then
      return nil, ("a mount operation has no absolute dest (%s)"):format(tostring(op.dest))
    end
    if kind == "bind" then
      text = line("bind", op.dest, flag(op.readonly, "ro", "rw"), flag(op.readonly, "ro", "rw"),
        flag(op.try, "try", "must"))
    elseif kind == "tmpfs" then
      mode, err = mode_of(op, "0755")
      text = mode and line("tmpfs", op.dest, mode, op.size or "-")
    elseif kind == "proc" or kind == "dev" then
      text = line(kind, op.dest)
    elseif kind == "dir" then
      mode, err = mode_of(op, "0755")
      text = mode and line("dir", op.dest, mode)
    elseif kind == "symlink" then
      text = line("symlink", op.dest, op.target)
    elseif kind == "file" then
      if type(op.contents) ~= "string" then
        return nil, ("file %s: a VM's files are given by contents, not by a descriptor"):format(op.dest)
      end
      mode, err = mode_of(op, "0644")
      local path = ("%s/%d"):format(M.files_dir, #files + 1)
      files[#files + 1] = { path = path, data = op.contents }
      text = mode and line("file", op.dest, path, mode, flag(op.readonly, "ro", "rw"))
    elseif kind == "remount-ro" then
      text = line("readonly", op.dest)
    elseif kind == "dev-bind" then
      return nil, ("dev-bind %s: a VM cannot be given the host's devices"):format(op.dest)
    else
      return nil, ("unknown mount operation %s"):format(tostring(kind))
    end
    if not text then return nil, err end
    lines[#lines + 1] = text
  end
  return table.concat(lines, "\n") .. "\n", files
end

return M
