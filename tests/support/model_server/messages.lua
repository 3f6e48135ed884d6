-- What the Anthropic Messages API answers: a message as JSON or as the
-- server-sent events of a stream, errors in the API's shape, and usage
-- estimated from the request's size, with the cache fields Claude Code
-- reads.
local cjson = require "cjson"
local uv = require "luv"

local M = {}

-- Ids look like the real ones ("msg_01" and base58) and are random, so two
-- servers, or two runs, never hand out the same id.
local base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
function M.new_id(prefix)
  local random = (uv.random(22))
  return prefix .. "01" .. random:gsub(".", function(byte)
    local i = byte:byte() % #base58 + 1
    return base58:sub(i, i)
  end)
end

-- About four bytes a token, as a real tokenizer gives for English and JSON.
function M.tokens(bytes) return math.max(1, math.ceil(bytes / 4)) end
local tokens = M.tokens

-- The usage of a request whose raw BODY decoded to REQUEST, for an answer
-- of OUTPUT_BYTES, with the fields of OVERRIDE (from the script) on top.
-- When the request marks cache breakpoints, as Claude Code does, its tools
-- and system prompt are the cached prefix: written to the cache the first
-- time (a key in SEEN_PREFIXES), read from it after.
function M.usage(seen_prefixes, body, request, output_bytes, override)
  -- A hostile request may hold what cjson will not write back (1e999).
  local ok, prefix = pcall(function()
    return cjson.encode(request.tools or {}) .. cjson.encode(request.system or "")
  end)
  if not ok then prefix = "" end
  local cached = body:find('"cache_control"', 1, true) ~= nil
  local usage = {
    input_tokens = tokens(math.max(#body - (cached and #prefix or 0), 1)),
    cache_creation_input_tokens = 0,
    cache_read_input_tokens = 0,
    output_tokens = tokens(output_bytes),
    service_tier = "standard",
  }
  if cached and seen_prefixes[prefix] then
    usage.cache_read_input_tokens = tokens(#prefix)
  elseif cached then
    seen_prefixes[prefix] = true
    usage.cache_creation_input_tokens = tokens(#prefix)
  end
  for name, value in pairs(override or {}) do usage[name] = value end
  usage.cache_creation = {
    ephemeral_5m_input_tokens = usage.cache_creation_input_tokens, ephemeral_1h_input_tokens = 0,
  }
  return usage
end

-- The bytes of CONTENT (a list of blocks) that count as output.
function M.output_bytes(content)
  local bytes = 0
  for _, block in ipairs(content) do
    bytes = bytes + #(block.text or "") + (block.input and #cjson.encode(block.input) + #block.name or 0)
  end
  return bytes
end

function M.message(content, stop_reason, model, usage)
  return {
    id = M.new_id("msg_"), type = "message", role = "assistant", model = model,
    content = content, stop_reason = stop_reason, stop_sequence = cjson.null, usage = usage,
  }
end

local function json_headers(request_id, content_type)
  return { ["Content-Type"] = content_type or "application/json", ["request-id"] = request_id }
end

function M.json_response(status, value, request_id)
  return { status = status, headers = json_headers(request_id), body = cjson.encode(value) }
end

function M.error_response(status, error_type, message, request_id)
  return M.json_response(status, {
    type = "error", error = { type = error_type, message = message }, request_id = request_id,
  }, request_id)
end

-- TEXT in pieces of at most SIZE characters, never splitting a UTF-8
-- sequence; text that is not UTF-8 goes as one piece.
local function pieces(text, size)
  local out = {}
  if not utf8.len(text) then return { text } end
  local start = 1
  while start <= #text do
    local stop = utf8.offset(text, size + 1, start) or #text + 1
    out[#out + 1] = text:sub(start, stop - 1)
    start = stop
  end
  return out
end

local function event(name, data)
  return ("event: %s\ndata: %s\n\n"):format(name, cjson.encode(data))
end

-- MESSAGE as the events of a stream, each a chunk of the HTTP body, in the
-- order the API sends them: message_start, then per block start, deltas
-- and stop, then message_delta with the stop reason and usage, and
-- message_stop.
function M.stream_response(message, request_id)
  local start_usage = {}
  for name, value in pairs(message.usage) do start_usage[name] = value end
  start_usage.output_tokens = 1
  local started = {}
  for name, value in pairs(message) do started[name] = value end
  started.content, started.stop_reason, started.usage = nil, cjson.null, start_usage
  -- cjson cannot tell an empty array from an empty object, so the empty
  -- content list is spliced in as text.
  local started_json = '{"content":[],' .. cjson.encode(started):sub(2)
  local chunks = {
    ('event: message_start\ndata: {"type":"message_start","message":%s}\n\n'):format(started_json),
    event("ping", { type = "ping" }),
  }
  for i, block in ipairs(message.content) do
    local index = i - 1
    local empty, deltas
    if block.type == "text" then
      deltas = {}
      empty = { type = "text", text = "" }
      for _, piece in ipairs(pieces(block.text, 24)) do
        deltas[#deltas + 1] = { type = "text_delta", text = piece }
      end
    else
      empty = { type = "tool_use", id = block.id, name = block.name, input = {} }
      deltas = { { type = "input_json_delta", partial_json = "" } }
      for _, piece in ipairs(pieces(cjson.encode(block.input), 24)) do
        deltas[#deltas + 1] = { type = "input_json_delta", partial_json = piece }
      end
    end
    chunks[#chunks + 1] = event("content_block_start",
      { type = "content_block_start", index = index, content_block = empty })
    for _, delta in ipairs(deltas) do
      chunks[#chunks + 1] = event("content_block_delta", { type = "content_block_delta", index = index, delta = delta })
    end
    chunks[#chunks + 1] = event("content_block_stop", { type = "content_block_stop", index = index })
  end
  chunks[#chunks + 1] = event("message_delta", {
    type = "message_delta",
    delta = { stop_reason = message.stop_reason, stop_sequence = cjson.null },
    usage = message.usage,
  })
  chunks[#chunks + 1] = event("message_stop", { type = "message_stop" })
  local headers = json_headers(request_id, "text/event-stream; charset=utf-8")
  headers["Cache-Control"] = "no-cache"
  return { status = 200, headers = headers, chunks = chunks }
end

return M
