-- A launch plan (docs/plan.md) as a systemd-nspawn command line. Pure: the
-- facts it needs about host paths come in CONTEXT, and what must exist on
-- the host before nspawn runs (the root directory's mount points, the
-- plan's files) comes back as lists for the launcher to make.
--
-- How the plan's parts map:
--   namespaces   nspawn makes user (--private-users=pick), mount, PID, IPC,
--                UTS and cgroup namespaces; "net" is --private-network
--   mounts       the root is a directory of mount points, read-only
--                (--read-only); binds are --bind/--bind-ro, ID-mapped
--                (idmap) so that files keep their host owners; tmpfs is
--                --tmpfs; "proc", "dev" and the tmpfs at /run are nspawn's
--                own; a "dir" inside a tmpfs is a tmpfs of its own (nspawn
--                cannot make an empty directory there), and so is each
--                directory on the way to a mount inside a tmpfs; "file" is
--                a file written beside the root and bound in
--   seccomp      --system-call-filter=~ for the system calls; nspawn cannot
--                filter ioctls, so the init inside (sbx container-init, the
--                engine's sandbox.adopt) installs the engine's own filter,
--                which refuses the ioctls too, in the entry
--   env, cwd, argv, limits, terminal, lifetime, uid_map, gid_map
--                the init's plan (`init` in the result), read from a file
--                bound in: never on nspawn's command line, which every host
--                user can read in /proc
local fs = require "sbx.fs"

local M = {}

-- Where the init finds itself and its plan inside.
M.init_dir = "/run/sbx/init"
M.init_sbx = M.init_dir .. "/sbx"
M.init_plan = M.init_dir .. "/plan.json"

-- Everything a container keeps of nspawn's capability bounding set but
-- CAP_SETFCAP: the init needs it to map its uid in the user namespace it
-- makes (the kernel asks for it when a map names the parent's root), and
-- drops it with everything else before anything of the sandbox runs.
M.dropped_capabilities = {
  "cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid", "cap_kill",
  "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable", "cap_net_bind_service",
  "cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner",
  "cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace", "cap_sys_pacct",
  "cap_sys_admin", "cap_sys_boot", "cap_sys_nice", "cap_sys_resource", "cap_sys_time",
  "cap_sys_tty_config", "cap_mknod", "cap_lease", "cap_audit_write", "cap_audit_control",
  "cap_mac_override", "cap_mac_admin", "cap_syslog", "cap_wake_alarm", "cap_block_suspend",
  "cap_audit_read", "cap_perfmon", "cap_bpf", "cap_checkpoint_restore",
}

-- Where nspawn mounts file systems of its own (devtmpfs-like tmpfs, proc,
-- sysfs): it makes the mount points the plan needs there. /run is nspawn's
-- tmpfs too, standing for the plan's.
local NSPAWN_OWN = { "/dev", "/proc", "/sys" }
local NSPAWN_RUN = "/run"

-- Mount-point directories every root needs for nspawn's own file systems.
M.root_dirs = { "/run", "/dev", "/proc", "/sys", "/tmp", "/var" }

local PROCESS_FIELDS = { "env", "cwd", "argv", "seccomp", "limits", "terminal", "lifetime",
  "uid_map", "gid_map" }

local function under(path, dir)
  return path:sub(1, #dir + 1) == dir .. "/"
end

-- nspawn reads backslash escapes in paths, and a colon separates fields.
function M.escape(path)
  return (path:gsub("\\", "\\\\"):gsub(":", "\\:"))
end

local function parents(path)
  local list = {}
  local dir = fs.dirname(path)
  while dir and dir ~= "" do
    table.insert(list, 1, dir)
    dir = fs.dirname(dir)
  end
  return list
end

-- The root directory's contents, each path once, parents first.
local function skeleton()
  local entries, seen = {}, {}
  local s = { entries = entries }
  local function add(entry)
    if seen[entry.path] then return end
    seen[entry.path] = entry
    entries[#entries + 1] = entry
  end
  function s.dir(path, mode)
    for _, parent in ipairs(parents(path)) do add { path = parent, kind = "directory", mode = "0755" } end
    add { path = path, kind = "directory", mode = mode or "0755" }
  end
  function s.file(path)
    for _, parent in ipairs(parents(path)) do add { path = parent, kind = "directory", mode = "0755" } end
    add { path = path, kind = "file", mode = "0644" }
  end
  function s.link(path, target)
    for _, parent in ipairs(parents(path)) do add { path = parent, kind = "directory", mode = "0755" } end
    add { path = path, kind = "symlink", target = target }
  end
  return s
end

local function copy_process_plan(plan)
  local init = {}
  for _, key in ipairs(PROCESS_FIELDS) do init[key] = plan[key] end
  return init
end

-- Translates PLAN. CONTEXT:
--   nspawn     the systemd-nspawn executable
--   machine    a machine name no other container on this host has
--   root       the root directory (a host path; empty, made by the launcher)
--   files      the directory the plan's files are written to
--   sbx        this program's executable, bound in as the init
--   kind(path, follow)  the type of a host path ("directory", "file",
--              "socket", ...; nil when it does not exist); with FOLLOW
--              false, "link" when the path or a directory on the way to it
--              is a symbolic link
-- Returns { argv = ..., skeleton = { {path, kind, mode|target} },
--   files = { {path, contents, mode} }, init = <process plan> }, or nil
-- and a message.
function M.translate(plan, context)
  local args = {
    context.nspawn, "--quiet", "--keep-unit", "--register=no",
    "--machine=" .. context.machine, "--directory=" .. context.root, "--read-only",
    "--private-users=pick", "--private-users-ownership=map",
    "--hostname=" .. plan.hostname, "--timezone=off", "--resolv-conf=off", "--link-journal=no",
    "--no-new-privileges=yes", "--drop-capability=" .. table.concat(M.dropped_capabilities, ","),
  }
  local function add(arg) args[#args + 1] = arg end
  local root = skeleton()
  for _, dir in ipairs(M.root_dirs) do root.dir(dir) end
  local files = {}
  local tmpfs, own, mounted = { NSPAWN_RUN }, {}, { [NSPAWN_RUN] = true }
  for _, dir in ipairs(NSPAWN_OWN) do own[dir] = true; tmpfs[#tmpfs + 1] = dir end
  -- The deepest tmpfs DEST is in, if any.
  local function tmpfs_of(dest)
    local found
    for _, dir in ipairs(tmpfs) do
      if under(dest, dir) and (not found or #dir > #found) then found = dir end
    end
    return found
  end
  local function add_tmpfs(dest, mode, size)
    local options = { "mode=" .. mode }
    if size then options[#options + 1] = "size=" .. size end
    add(("--tmpfs=%s:%s"):format(M.escape(dest), table.concat(options, ",")))
    tmpfs[#tmpfs + 1], mounted[dest] = dest, true
  end
  -- Makes DEST's mount point: in the read-only root, or, in a tmpfs, the
  -- directories on the way to it as tmpfs mounts of their own: nspawn would
  -- make them as the host's root, which the sandbox's user could not
  -- write (the engine makes them as that user).
  local function mount_point(dest, is_dir)
    local enclosing_tmpfs = tmpfs_of(dest)
    if not enclosing_tmpfs then
      if is_dir then root.dir(dest) else root.file(dest) end
    elseif not own[enclosing_tmpfs] then
      for _, dir in ipairs(parents(dest)) do
        if under(dir, enclosing_tmpfs) and not mounted[dir] then add_tmpfs(dir, "0755") end
      end
    end
    mounted[dest] = true
  end
  local function bind(source, dest, readonly, idmap)
    add(("--bind%s=%s:%s:%s"):format(readonly and "-ro" or "", M.escape(source), M.escape(dest),
      idmap and "rbind,idmap" or "rbind,noidmap"))
  end

  for i, op in ipairs(plan.mounts) do
    local where = ("plan.mounts[%d] (%s %s)"):format(i, op.op, op.dest)
    if op.op == "bind" or op.op == "dev-bind" then
      local kind = context.kind(op.source, op.follow_symlinks or false)
      if kind == "link" then
        return nil, ("%s: %s is, or passes through, a symbolic link; the plan does not follow links "
          .. "there (a sandbox may have planted it)"):format(where, op.source)
      end
      if kind then
        mount_point(op.dest, kind == "directory")
        bind(op.source, op.dest, op.readonly, op.op == "bind")
      elseif not op.try then
        return nil, ("%s: %s does not exist"):format(where, op.source)
      end
    elseif op.op == "tmpfs" and op.dest == NSPAWN_RUN then -- luacheck: ignore 542
      -- nspawn's own /run, a tmpfs of mode 0755 too.
    elseif op.op == "tmpfs" or (op.op == "dir" and tmpfs_of(op.dest)) then
      -- A directory in a tmpfs: nspawn cannot make an empty one there.
      mount_point(op.dest, true)
      add_tmpfs(op.dest, op.mode or (op.op == "dir" and "0755" or "1777"), op.size)
    elseif op.op == "dir" then
      root.dir(op.dest, op.mode)
    elseif op.op == "proc" or op.op == "dev" then -- luacheck: ignore 542
      -- nspawn mounts its own, with /proc/sys and the like read-only.
    elseif op.op == "symlink" then
      if tmpfs_of(op.dest) then
        return nil, ("%s: the container backend makes links only outside the plan's tmpfs mounts"):format(where)
      end
      root.link(op.dest, op.target)
    elseif op.op == "file" then
      if not op.contents then return nil, where .. ": the container backend takes files by contents" end
      local path = ("%s/%d"):format(context.files, i)
      files[#files + 1] = { path = path, contents = op.contents, mode = op.mode or "0644" }
      mount_point(op.dest, false)
      bind(path, op.dest, op.readonly, true)
    else
      return nil, ("%s: the container backend cannot do '%s'"):format(where, op.op)
    end
  end

  local network = false
  for _, name in ipairs(plan.namespaces) do
    if name == "net" then network = true end
  end
  if network then add("--private-network") end
  local filter = {}
  for i, name in ipairs(plan.seccomp.syscalls) do filter[i] = name end
  if #filter > 0 then add("--system-call-filter=~" .. table.concat(filter, " ")) end
  -- A sandbox that goes on without its caller has no terminal to relay.
  local relayed = plan.terminal == "pty" and plan.die_with_parent ~= false
  add("--console=" .. (relayed and "interactive" or "pipe"))

  local init_file = context.files .. "/init.json"
  bind(context.sbx, M.init_sbx, true, false)
  bind(init_file, M.init_plan, true, true)
  add("--")
  add(M.init_sbx)
  add("container-init")
  add(M.init_plan)
  return {
    argv = args,
    skeleton = root.entries,
    files = files,
    init_file = init_file,
    init = copy_process_plan(plan),
  }
end

return M
