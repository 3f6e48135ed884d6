-- sbx remote (and the claude-remote link): drives the manager on another
-- host over SSH. Each call runs `sbx api` there, so nothing but sshd has to
-- listen on the network, and the API token never leaves the server: SSH's
-- own authentication is what lets you in.
local async = require "sbx.async"
local cjson = require "cjson"

local USAGE_COMMANDS = [[
commands:
  ls                             the manager's sandboxes, newest first
  show ID                        one sandbox, field by field
  create NAME PROJECT-DIR        a new sandbox (--backend, --network)
  stop ID                        end its session, its processes and its display
  rm ID                          stop it and forget it, with its log
  logs ID                        its terminal's log
  attach ID                      this terminal on its tmux session (Ctrl-b d detaches)
  screenshot ID FILE             its screen as a JPEG (FILE - for stdout)
  metrics                        the host's CPU, memory, load, disks, network (JSON)
ID is a sandbox's id or the start of one that no other id shares.]]

local FIELDS = { "id", "name", "backend", "project_dir", "status", "network", "created_at", "tmux_session",
  "display_num", "pid_xvfb", "qemu_qmp_socket" }

-- WORD quoted for the remote shell, which gets ssh's arguments joined.
local function shell_quote(word)
  return "'" .. word:gsub("'", "'\\''") .. "'"
end

local function words(text)
  local list = {}
  for word in text:gmatch("%S+") do list[#list + 1] = word end
  return list
end

-- ssh's argv for running `sbx COMMAND [--state DIR] ARGS...` on the host,
-- with SSH_OPTIONS (a list) before the host.
local function ssh_argv(context, ssh_options, command, args)
  local remote = { context.sbx, command }
  if context.state then table.move({ "--state", context.state }, 1, 2, #remote + 1, remote) end
  table.move(args, 1, #args, #remote + 1, remote)
  for i, word in ipairs(remote) do remote[i] = shell_quote(word) end
  local argv = words(context.ssh)
  table.move(ssh_options, 1, #ssh_options, #argv + 1, argv)
  table.move({ context.host, "--", table.concat(remote, " ") }, 1, 3, #argv + 1, argv)
  return argv
end

-- One API call on the remote host: {status, body}, or nil and a message.
local function call(context, method, path, body)
  local argv = ssh_argv(context, {}, "api", { "--status", method, path })
  local result, err = async.execute(argv, { stdin = body or "" })
  if not result then return nil, ("cannot run %s: %s"):format(argv[1], err) end
  local status, rest = result.stdout:match("^(%d%d%d)\n(.*)$")
  if status then return { status = math.tointeger(tonumber(status)), body = rest } end
  local why = result.stderr:gsub("%s+$", "")
  if result.code == 255 then return nil, ("ssh to %s failed: %s"):format(context.host, why) end
  if result.code == 127 then
    return nil, ("%s is not found on %s (--sbx names it there): %s"):format(context.sbx, context.host, why)
  end
  if why ~= "" then return nil, why end
  return nil, ("%s did not answer as sbx api does (exit %s): %q"):format(context.host, result.code,
    result.stdout:sub(1, 80))
end

-- The message of an API error answer.
local function api_error(response)
  local ok, decoded = pcall(cjson.decode, response.body)
  if ok and type(decoded) == "table" and type(decoded.error) == "string" then
    return decoded.field and (decoded.field .. ": " .. decoded.error) or decoded.error
  end
  return ("HTTP %d"):format(response.status)
end

-- Calls and decodes a JSON answer with status EXPECTED; nil and a message.
local function call_json(context, method, path, body, expected)
  local response, err = call(context, method, path, body)
  if not response then return nil, err end
  if response.status ~= expected then return nil, api_error(response) end
  local ok, decoded = pcall(cjson.decode, response.body)
  if not ok or type(decoded) ~= "table" then return nil, "the manager's answer is not JSON" end
  return decoded
end

-- The full id of the sandbox whose id is or starts with PREFIX.
local function resolve_id(context, prefix)
  if not prefix:match("^[%x%-]+$") then return nil, ("'%s' is not a sandbox id"):format(prefix) end
  if #prefix == 36 then return prefix end -- whole: no need to look
  local list, err = call_json(context, "GET", "/api/sandboxes", nil, 200)
  if not list then return nil, err end
  local found = {}
  for _, sandbox in ipairs(list) do
    if type(sandbox.id) == "string" and sandbox.id:sub(1, #prefix) == prefix then found[#found + 1] = sandbox.id end
  end
  if #found == 1 then return found[1] end
  if #found == 0 then return nil, ("no sandbox on %s has an id starting with %s"):format(context.host, prefix) end
  return nil, ("%s is the start of %d ids: %s"):format(prefix, #found, table.concat(found, ", "))
end

local function text(value)
  if value == nil or value == cjson.null then return "-" end
  return tostring(value)
end

local function show_list(list)
  if #list == 0 then
    io.stdout:write("no sandboxes\n")
    return
  end
  local line = "%-8s  %-16s  %-10s  %-7s  %-7s  %-20s  %s\n"
  io.stdout:write(line:format("ID", "NAME", "BACKEND", "STATUS", "NETWORK", "CREATED", "PROJECT"))
  for _, s in ipairs(list) do
    io.stdout:write(line:format(text(s.id):sub(1, 8), text(s.name), text(s.backend), text(s.status),
      text(s.network), text(s.created_at), text(s.project_dir)))
  end
end

-- Each subcommand: its number of arguments and what it does; returns an
-- exit code, or nil and a message.
local actions = {}

actions.ls = { 0, function(context)
  local list, err = call_json(context, "GET", "/api/sandboxes", nil, 200)
  if not list then return nil, err end
  show_list(list)
  return 0
end }

actions.show = { 1, function(context, id)
  local sandbox, err = call_json(context, "GET", "/api/sandboxes/" .. id, nil, 200)
  if not sandbox then return nil, err end
  for _, field in ipairs(FIELDS) do io.stdout:write(("%-16s %s\n"):format(field, text(sandbox[field]))) end
  return 0
end, needs_id = true }

actions.create = { 2, function(context, name, project_dir)
  local body = cjson.encode { name = name, project_dir = project_dir, backend = context.backend or "bubblewrap",
    network = context.network }
  local sandbox, err = call_json(context, "POST", "/api/sandboxes", body, 201)
  if not sandbox then return nil, err end
  io.stdout:write(text(sandbox.id), "\n")
  return 0
end }

local function no_content(method, suffix)
  return { 1, function(context, id)
    local response, err = call(context, method, "/api/sandboxes/" .. id .. suffix)
    if not response then return nil, err end
    if response.status ~= 204 then return nil, api_error(response) end
    return 0
  end, needs_id = true }
end
actions.stop = no_content("POST", "/stop")
actions.rm = no_content("DELETE", "")

actions.logs = { 1, function(context, id)
  local response, err = call(context, "GET", "/api/sandboxes/" .. id .. "/logs")
  if not response then return nil, err end
  if response.status ~= 200 then return nil, api_error(response) end
  io.stdout:write(response.body)
  return 0
end, needs_id = true }

actions.screenshot = { 2, function(context, id, file)
  local response, err = call(context, "GET", "/api/sandboxes/" .. id .. "/screenshot")
  if not response then return nil, err end
  if response.status ~= 200 then return nil, api_error(response) end
  if response.body:sub(1, 2) ~= "\255\216" then return nil, "the manager's answer is not a JPEG" end
  if file == "-" then
    io.stdout:write(response.body)
    return 0
  end
  local out, open_err = io.open(file, "wb")
  if not out then return nil, open_err end
  out:write(response.body)
  out:close()
  return 0
end, needs_id = true }

actions.attach = { 1, function(context, id)
  local result, err = async.execute_attached(ssh_argv(context, { "-t" }, "attach", { id }))
  if not result then return nil, err end
  if result.code == 255 then return nil, ("ssh to %s failed"):format(context.host) end
  return result.code
end, needs_id = true }

actions.metrics = { 0, function(context)
  local figures, err = call_json(context, "GET", "/api/metrics/system", nil, 200)
  if not figures then return nil, err end
  io.stdout:write(cjson.encode(figures), "\n")
  return 0
end }

return {
  summary = "drive the manager on another host over SSH",
  usage = "remote [--host HOST] [--state DIR] [--sbx PATH] <command> [args]",
  description = USAGE_COMMANDS .. "\n\n"
    .. "HOST is what ssh takes (user@host, or a name from ~/.ssh/config); without\n"
    .. "--host, $SBX_REMOTE_HOST. $SBX_SSH is the ssh command line (default: ssh).\n"
    .. "On HOST, `sbx api` (--sbx names sbx there) reaches the manager through its\n"
    .. "state directory, so the API token stays on the server.",
  options = {
    { name = "--host", value = "HOST", help = "where the manager runs (else $SBX_REMOTE_HOST)" },
    { name = "--state", value = "DIR", help = "the manager's state directory on HOST" },
    { name = "--sbx", value = "PATH", help = "sbx on HOST (default: sbx, found on its PATH)" },
    { name = "--backend", value = "NAME", choices = { "bubblewrap", "container", "vm" },
      help = "create: how to isolate (default bubblewrap)" },
    { name = "--network", value = "MODE", choices = { "host", "private", "none" },
      help = "create: the sandbox's network (default: the manager's)" },
  },
  run = function(values, positional)
    local name = positional[1]
    local action = name and actions[name]
    if not action then
      return nil, (name and ("unknown remote command '%s'"):format(name) or "no remote command given")
        .. "\n" .. USAGE_COMMANDS, 2
    end
    local arguments = table.move(positional, 2, #positional, 1, {})
    if #arguments ~= action[1] then
      return nil, ("%s takes %d argument%s, not %d"):format(name, action[1], action[1] == 1 and "" or "s",
        #arguments), 2
    end
    local host = values.host or os.getenv("SBX_REMOTE_HOST")
    if not host or host == "" then return nil, "no host: give --host HOST or set SBX_REMOTE_HOST", 2 end
    if host:sub(1, 1) == "-" then return nil, "the host cannot start with '-'", 2 end
    local context = { host = host, state = values.state, sbx = values.sbx or "sbx", backend = values.backend,
      network = values.network, ssh = os.getenv("SBX_SSH") or "ssh" }
    if #words(context.ssh) == 0 then return nil, "SBX_SSH is empty", 2 end
    return async.run(function()
      if action.needs_id then
        local id, err = resolve_id(context, arguments[1])
        if not id then return nil, err, 1 end
        arguments[1] = id
      end
      local code, err = action[2](context, table.unpack(arguments))
      if not code then return nil, err, 1 end
      return code
    end)
  end,
}
