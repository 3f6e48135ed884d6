-- sbx api: one request to the manager running on this host, found through
-- its state directory (the address it listens on, and its token). What
-- `sbx remote` runs over SSH; handy in scripts on the server too.
local async = require "sbx.async"
local client = require "sbx.manager.client"

local METHODS = { GET = true, POST = true, DELETE = true }

return {
  summary = "send one request to this host's manager (what `sbx remote` runs over SSH)",
  usage = "api [--state DIR] [--status] GET|POST|DELETE PATH  (a POST's JSON body on stdin)",
  description = "The manager is found through its state directory: the address it listens\n"
    .. "on and its API token. The answer's body goes to stdout; an answer that is not a\n"
    .. "success is also said on stderr, and the exit code is 1.",
  options = {
    client.state_option,
    { name = "--status", help = "print the HTTP status on a line of its own before the body" },
  },
  run = function(values, positional)
    if #positional ~= 2 then return nil, "expected a method and a path", 2 end
    local method, path = positional[1], positional[2]
    if not METHODS[method] then return nil, "the method must be GET, POST or DELETE, not " .. method, 2 end
    if not path:match("^/[%w%-%._~/%%?=&]*$") then
      return nil, "the path must start with / and hold only URL characters", 2
    end
    local manager, err, code = client.find(values.state)
    if not manager then return nil, err, code end
    local body = method == "POST" and (io.stdin:read("a") or "") or nil
    local response
    response, err = async.run(client.request, manager, method, path, body)
    if not response then return nil, err, 1 end
    if values.status then io.stdout:write(response.status, "\n") end
    io.stdout:write(response.body)
    if response.status >= 300 then
      local ok, decoded = pcall(require("cjson").decode, response.body)
      local reason = ok and type(decoded) == "table" and decoded.error or response.body:sub(1, 200)
      io.stderr:write(("sbx api: %s %s: HTTP %d: %s\n"):format(method, path, response.status, tostring(reason)))
      return 1
    end
    return 0
  end,
}
