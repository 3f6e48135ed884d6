-- Claude Code session files -> the dashboard's figures: counting once,
-- reading only what was appended, and surviving hostile files.
local cjson = require "cjson"
local uv = require "luv"
local usage = require "sbx.dashboard.claude_usage"
local spec = require "sbx.spec"

local function line(t) return cjson.encode(t) .. "\n" end

-- One API response written as Claude Code does: a line per content block,
-- each repeating the response's usage.
local function response(id, request, model, blocks, tokens, extra)
  local lines = {}
  for i, block in ipairs(blocks) do
    local entry = {
      type = "assistant", uuid = id .. "-" .. i, sessionId = "s1", requestId = request,
      timestamp = "2025-06-01T10:00:0" .. i .. ".000Z",
      message = { id = id, model = model, role = "assistant", content = { block }, usage = tokens },
    }
    for k, v in pairs(extra or {}) do entry[k] = v end
    lines[#lines + 1] = line(entry)
  end
  return table.concat(lines)
end

local function session_text()
  return table.concat {
    line { type = "user", uuid = "u1", sessionId = "s1", timestamp = "2025-06-01T09:59:00.000Z",
      message = { role = "user", content = "list the files" } },
    line { type = "user", uuid = "meta", sessionId = "s1", isMeta = true,
      message = { role = "user", content = "<local-command-stdout>x</local-command-stdout>" } },
    response("msg_1", "req_1", "claude-sonnet-4-5-20250929", {
      { type = "text", text = "Sure." },
      { type = "tool_use", id = "tool_a", name = "Bash", input = { command = "ls" } },
      { type = "tool_use", id = "tool_b", name = "Read", input = { file_path = "/x" } },
    }, { input_tokens = 100, output_tokens = 20, cache_creation_input_tokens = 1000,
      cache_read_input_tokens = 5000 }),
    line { type = "user", uuid = "u2", sessionId = "s1", message = { role = "user", content = {
      { type = "tool_result", tool_use_id = "tool_a", content = "a\nb" },
      { type = "tool_result", tool_use_id = "tool_b", content = "text" } } } },
    response("msg_2", "req_2", "claude-sonnet-4-5-20250929", {
      { type = "tool_use", id = "tool_c", name = "Bash", input = { command = "pwd" } },
    }, { input_tokens = 10, output_tokens = 5 }),
  }
end

local scratches = dofile("tests/lua/support/scratch.lua")
teardown(scratches.clean)
local scratch
before_each(function()
  scratch = scratches.dir(tonumber("755", 8))
end)
after_each(function()
  scratches.remove(scratch)
end)

local function write(path, text, mode)
  local file = assert(io.open(path, mode or "w"))
  file:write(text)
  file:close()
end

describe("the project path encoding", function()
  it("replaces every character other than an ASCII letter or digit", function()
    assert.equal("-tmp-my-proj-x-y", usage.encode_project_path("/tmp/my.proj_x y"))
    assert.equal("-home-me-Proj2", usage.encode_project_path("/home/me/Proj2"))
  end)
  it("counts UTF-16 code units, as Claude Code (JavaScript) does", function()
    assert.equal("-tmp-caf-", usage.encode_project_path("/tmp/café"))
    assert.equal("-tmp---", usage.encode_project_path("/tmp/😀"))
    assert.equal("-tmp-a-b", usage.encode_project_path("/tmp/a\255b"), "a byte that is not UTF-8")
  end)

  it("cuts a long name and adds the base-36 hash of the path", function()
    local long = "/tmp/" .. string.rep("a", 250)
    local encoded = usage.encode_project_path(long)
    assert.equal(200 + 1 + #encoded:match("%-(%w+)$"), #encoded)
    assert.equal("-tmp-" .. string.rep("a", 195), encoded:sub(1, 200))
    -- The same rule as tests/support/model_server.sh, computed here:
    local h = 0
    for i = 1, #long do h = (h * 31 + long:byte(i)) & 0xFFFFFFFF end
    if h >= 0x80000000 then h = h - 0x100000000 end
    h = math.abs(h)
    local digits = ""
    repeat digits = ("0123456789abcdefghijklmnopqrstuvwxyz"):sub(h % 36 + 1, h % 36 + 1) .. digits; h = h // 36
    until h == 0
    assert.equal(digits, encoded:sub(202))
  end)

  it("agrees with the rule observed on the real Claude Code (tests/support/model_server.sh)", function()
    for _, path in ipairs { "/tmp/x y.z/café", "/tmp/emoji 😀/" .. string.rep("b", 210) } do
      local helper = io.popen("sh -c '. tests/support/model_server.sh 2>/dev/null; claude_project_dir \"$0\"' '"
        .. path .. "'")
      local expected = helper:read("l")
      helper:close()
      assert.equal(expected, usage.encode_project_path(path))
    end
  end)
end)

describe("counting lines", function()
  it("counts each response once, tools per use, prompts apart from tool results", function()
    local counter = usage.new_counter()
    assert.equal("", usage.count_text(counter, session_text()))
    local f = counter.figures
    assert.equal(110, f.input_tokens)
    assert.equal(25, f.output_tokens)
    assert.equal(1000, f.cache_creation_tokens)
    assert.equal(5000, f.cache_read_tokens)
    assert.equal(2, f.responses)
    assert.equal(1, f.prompts)
    assert.equal(2, f.tool_results)
    assert.equal(3, f.tool_uses)
    assert.same({ Bash = 2, Read = 1 }, f.tools)
    assert.equal(1, f.sessions)
    assert.equal("2025-06-01T10:00:03.000Z", f.last_activity)
  end)

  it("does not count a resumed session's copied lines again", function()
    local counter = usage.new_counter()
    usage.count_text(counter, session_text())
    local copied = session_text():gsub('"sessionId":"s1"', '"sessionId":"s2"')
    usage.count_text(counter, copied)
    assert.equal(110, counter.figures.input_tokens)
    assert.equal(3, counter.figures.tool_uses)
    assert.equal(1, counter.figures.prompts)
    assert.equal(2, counter.figures.sessions)
  end)

  it("counts a subagent's sidechain tokens and tools but not its task as a prompt", function()
    local counter = usage.new_counter()
    usage.count_text(counter, table.concat {
      line { type = "user", uuid = "t1", isSidechain = true, agentId = "a1", sessionId = "s1",
        message = { role = "user", content = "Search the code" } },
      response("msg_9", "req_9", "claude-haiku-4-5-20251001",
        { { type = "tool_use", id = "tool_z", name = "Grep", input = {} } },
        { input_tokens = 7, output_tokens = 3 }, { isSidechain = true, agentId = "a1" }),
    })
    assert.equal(0, counter.figures.prompts)
    assert.equal(1, counter.figures.subagents)
    assert.equal(7, counter.figures.input_tokens)
    assert.same({ Grep = 1 }, counter.figures.tools)
  end)

  it("keeps an unfinished line for later and counts malformed ones", function()
    local counter = usage.new_counter()
    local rest = usage.count_text(counter, '{"type":"user"\nnot json\n[1,2]\n"text"\n{"type":"assi')
    assert.equal('{"type":"assi', rest)
    assert.equal(2, counter.figures.malformed_lines)
  end)

  it("survives garbage: wrong types, huge numbers, deep nesting, random bytes", function()
    local counter = usage.new_counter()
    local hostile = {
      line { type = "assistant", message = { id = 5, usage = { input_tokens = -5, output_tokens = "9",
        cache_read_input_tokens = 1e300 }, content = "not a list" } },
      line { type = "assistant", message = { content = { { type = "tool_use", name = { "x" } }, 7 } } },
      line { type = "user", message = { content = { { type = "tool_result" }, "str", false } } },
      line { type = { "x" }, timestamp = 12, sessionId = {}, message = cjson.null },
      string.rep("[", 5000) .. string.rep("]", 5000) .. "\n",
      '{"type":"assistant","message":{"usage":{"input_tokens":1.5e400}}}\n',
    }
    math.randomseed(7)
    for _ = 1, 200 do
      local bytes = {}
      for i = 1, math.random(1, 300) do bytes[i] = string.char(math.random(0, 255)) end
      hostile[#hostile + 1] = table.concat(bytes)
    end
    local text = table.concat(hostile)
    for cut = 1, #text, 97 do
      usage.count_text(usage.new_counter(), text:sub(1, cut))
    end
    usage.count_text(counter, text .. "\n")
    assert.equal(0, counter.figures.input_tokens)
    assert.is_true(counter.figures.malformed_lines > 0)
    assert.equal(1, counter.figures.tool_uses)
  end)
end)

describe("a tracker", function()
  it("reads the project's sessions and sidechains, and then only appended bytes", function()
    local session = scratch .. "/0b7f.jsonl"
    write(session, session_text())
    assert(uv.fs_mkdir(scratch .. "/0b7f", tonumber("755", 8)))
    assert(uv.fs_mkdir(scratch .. "/0b7f/subagents", tonumber("755", 8)))
    write(scratch .. "/0b7f/subagents/agent-1.jsonl", response("msg_s", "req_s", "claude-haiku-4-5",
      { { type = "text", text = "found" } }, { input_tokens = 1, output_tokens = 1 },
      { isSidechain = true, agentId = "a1" }))
    local tracker = usage.tracker(scratch)
    local figures = usage.refresh(tracker)
    assert.equal(111, figures.input_tokens)
    assert.equal(1, figures.subagents)
    local offset = tracker.files[session].offset

    write(session, response("msg_3", "req_3", "claude-sonnet-4-5", { { type = "text", text = "done" } },
      { input_tokens = 1000, output_tokens = 1 }):sub(1, 30), "a")
    figures = usage.refresh(tracker)
    assert.equal(111, figures.input_tokens, "half a line is not counted yet")
    assert.equal(offset + 30, tracker.files[session].offset, "only the appended bytes were read")
    write(session, response("msg_3", "req_3", "claude-sonnet-4-5", { { type = "text", text = "done" } },
      { input_tokens = 1000, output_tokens = 1 }):sub(31), "a")
    assert.equal(1111, usage.refresh(tracker).input_tokens)
    assert.equal(1111, usage.refresh(tracker).input_tokens, "nothing new, nothing counted twice")
  end)

  it("starts over when a file is truncated or replaced", function()
    local session = scratch .. "/a.jsonl"
    write(session, session_text())
    local tracker = usage.tracker(scratch)
    assert.equal(110, usage.refresh(tracker).input_tokens)
    write(session, response("m", "r", "claude-sonnet-4", { { type = "text", text = "x" } },
      { input_tokens = 4, output_tokens = 1 }))
    assert.equal(4, usage.refresh(tracker).input_tokens)
  end)

  it("skips FIFOs, symbolic links and over-long lines without blocking", function()
    os.execute(("mkfifo '%s/fifo.jsonl'"):format(scratch))
    os.execute(("ln -s /dev/zero '%s/zero.jsonl'"):format(scratch))
    local saved = usage.max_line
    usage.max_line = 1000
    write(scratch .. "/long.jsonl", string.rep("x", 5000) .. "\n" .. session_text())
    local figures = usage.refresh(usage.tracker(scratch))
    usage.max_line = saved
    assert.equal(110, figures.input_tokens)
    assert.equal(1, figures.malformed_lines)
  end)

  it("is empty for a project Claude never ran in", function()
    local figures = usage.refresh(usage.tracker(scratch .. "/missing"))
    assert.equal(0, figures.sessions)
  end)
end)

describe("the cost estimate", function()
  it("prices each model by the longest matching prefix in the spec", function()
    local counter = usage.new_counter()
    usage.count_text(counter, response("m1", "r1", "claude-opus-4-5-20251101", { { type = "text", text = "" } },
      { input_tokens = 1000000, output_tokens = 1000000 }) ..
      response("m2", "r2", "mystery-model", { { type = "text", text = "" } }, { input_tokens = 5 }))
    local summary = usage.summary(counter.figures, spec.default().prices)
    assert.near(30, summary.estimated_cost_usd, 1e-9)
    assert.same({ "mystery-model" }, summary.unpriced_models)
  end)

  it("refuses a malformed price in the user's config", function()
    local path = scratches.path("config.lua")
    write(path, 'table.insert(spec.prices, { model = "x", input = "cheap" })\n')
    local resolved, err = spec.load(path)
    assert.is_nil(resolved)
    assert.truthy(err:find("prices", 1, true))
  end)
end)
