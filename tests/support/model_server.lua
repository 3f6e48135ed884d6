-- A scripted Anthropic Messages API server on loopback, so that tests run
-- the real Claude Code client with no network. Start it with
--   ./sbx lua tests/support/model_server.lua -- --url-file F [--script S] [--log L]
-- (or through tests/support/model_server.sh). It listens on 127.0.0.1 on a
-- port the kernel picks and writes its base URL to F once it is listening.
-- The agent's requests follow the script (see model_server/script.lua); the
-- requests Claude Code makes on its own get a default answer and do not use
-- up the script (see model_server/background.lua). Every request is logged
-- to L as one JSON line. SIGTERM or SIGINT ends it, with status 0.
local uv = require "luv"
local cjson = require "cjson"
local args = require "sbx.args"
local fs = require "sbx.fs"

-- The helper modules live beside this file, wherever it is run from.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
if here:sub(1, 1) ~= "/" then here = uv.cwd() .. "/" .. here end
package.path = here .. "/?.lua;" .. package.path
local http = require "model_server.http"
local messages = require "model_server.messages"
local script = require "model_server.script"
local background = require "model_server.background"
local request_log = require "model_server.request_log"

local options_spec = {
  { name = "--url-file", value = "FILE", help = "write the base URL here once listening (atomically)" },
  { name = "--script", value = "FILE", help = "the agent's turns: a .json array or a Lua file returning a table" },
  { name = "--log", value = "FILE", help = "append one JSON line per request" },
  { name = "--log-bodies", help = "log the headers and the whole body too" },
  { name = "--incomplete-timeout", value = "MS", help = "answer 408 to a request incomplete this long (10000)" },
}

local function fail(message)
  io.stderr:write("model_server: ", message, "\n")
  os.exit(2)
end

local usage_line = "usage: sbx lua tests/support/model_server.lua -- --url-file FILE [options]\n"

local function usage_error(message)
  fail(message .. "\n" .. usage_line .. args.describe(options_spec))
end

local options, positional = args.parse(options_spec, arg)
if not options then usage_error(positional) end
if positional[1] then usage_error("unexpected argument '" .. positional[1] .. "'") end
if options.help then io.stdout:write(usage_line, args.describe(options_spec), "\n"); return end
if not options.url_file then usage_error("--url-file is required") end
local incomplete_timeout = math.tointeger(tonumber(options.incomplete_timeout or "10000"))
if not incomplete_timeout or incomplete_timeout < 1 then
  usage_error("--incomplete-timeout must be a positive number of milliseconds")
end

local turns = {}
if options.script then
  local loaded, err = script.load(options.script)
  if not loaded then fail(err) end
  turns = loaded
end
local log, log_err = request_log.open(options.log)
if not log then fail(log_err) end

local next_turn = 1
local seen_prefixes = {}

-- Answers POST /v1/messages: the next turn of the script, or a background
-- answer; streamed when the client asks for a stream.
local function answer_messages(request, entry, reply)
  local ok, body = pcall(cjson.decode, request.body)
  if not ok or type(body) ~= "table" or type(body.messages) ~= "table" or type(body.model) ~= "string" then
    entry.error = ok and "the body is not a Messages request" or "the body is not JSON: " .. body
    return reply(messages.error_response(400, "invalid_request_error", entry.error, entry.request_id))
  end
  request_log.summarize(entry, body)
  local turn
  entry.kind = background.classify(body)
  if entry.kind then
    turn = background.reply(entry.kind, body)
  else
    entry.kind, entry.turn = "turn", next_turn
    turn = turns[next_turn] or { text = "(the model server's script has no turn " .. next_turn .. ")" }
    entry.script_exhausted = turns[next_turn] == nil or nil
    next_turn = next_turn + 1
  end
  local content, stop_reason = script.content(turn, messages.new_id)
  local usage = messages.usage(seen_prefixes, request.body, body, messages.output_bytes(content), turn.usage)
  local message = messages.message(content, stop_reason, body.model, usage)
  entry.reply = { id = message.id, stop_reason = stop_reason, content = content, usage = usage }
  reply(body.stream == true and messages.stream_response(message, entry.request_id)
    or messages.json_response(200, message, entry.request_id))
end

local function answer_count_tokens(request, entry, reply)
  local ok, body = pcall(cjson.decode, request.body)
  if not ok or type(body) ~= "table" then
    entry.error = "the body is not a JSON object"
    return reply(messages.error_response(400, "invalid_request_error", entry.error, entry.request_id))
  end
  request_log.summarize(entry, body)
  entry.kind = "count_tokens"
  reply(messages.json_response(200, { input_tokens = messages.tokens(#request.body) }, entry.request_id))
end

-- Claude Code checks that it can reach the API with HEAD /api/hello
-- (unless CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC is set).
local function answer_hello(_, entry, reply)
  entry.kind = "hello"
  reply(messages.json_response(200, { message = "hello" }, entry.request_id))
end

local routes = {
  ["/v1/messages"] = { POST = answer_messages },
  ["/v1/messages/count_tokens"] = { POST = answer_count_tokens },
  ["/api/hello"] = { GET = answer_hello, HEAD = answer_hello },
}

local function handle(request, reply)
  local entry = request_log.entry(request, messages.new_id("req_"), options.log_bodies)
  local function logged_reply(response)
    entry.status = response.status
    log:write(entry)
    reply(response)
  end
  -- The test helper also makes the server Claude Code's HTTPS_PROXY, so
  -- whatever it tries to reach beyond the API (CONNECT host:443, or an
  -- absolute URL) is logged and refused instead of leaving the machine.
  if request.method == "CONNECT" or request.target:sub(1, 1) ~= "/" then
    entry.kind, entry.error = "proxy", "refused: the model server is not a way out"
    return logged_reply(messages.error_response(403, "permission_error",
      ("%s %s: %s"):format(request.method, request.target, entry.error), entry.request_id))
  end
  local route = routes[request.path]
  if not route then
    entry.error = "no such endpoint"
    return logged_reply(messages.error_response(404, "not_found_error",
      ("%s %s: no such endpoint"):format(request.method, request.path), entry.request_id))
  end
  if not route[request.method] then
    entry.error = "method not allowed"
    return logged_reply(messages.error_response(405, "invalid_request_error",
      ("%s does not take %s"):format(request.path, request.method), entry.request_id))
  end
  route[request.method](request, entry, logged_reply)
end

-- What cannot be parsed (or whose handler raised) is still logged and
-- answered in the API's error shape.
local function problem(status, message)
  local request_id = messages.new_id("req_")
  log:write { status = status, error = message, request_id = request_id }
  local error_type = status >= 500 and "api_error" or "invalid_request_error"
  return messages.error_response(status, error_type, message, request_id)
end

local server, listen_err = http.listen("127.0.0.1", handle, problem, incomplete_timeout)
if not server then fail("cannot listen: " .. listen_err) end
local url = ("http://127.0.0.1:%d"):format(server.port)
local written, write_err = fs.write_atomic(options.url_file, url .. "\n", tonumber("644", 8))
if not written then fail(("cannot write %s: %s"):format(options.url_file, write_err)) end

local signals = {}
local function stop()
  server.close()
  for _, signal in ipairs(signals) do signal:close() end
  log:close()
end
for _, name in ipairs { "sigterm", "sigint" } do
  local signal = uv.new_signal()
  signal:start(name, stop)
  signals[#signals + 1] = signal
end
io.stdout:write(url, "\n")
io.stdout:flush()
uv.run("default")
