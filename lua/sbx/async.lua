-- Coroutines on the luv loop: code that waits (for a child, a timer) reads
-- top to bottom instead of as nested callbacks. A function that waits must
-- run inside M.spawn_task or M.run.
local uv = require "luv"

local M = {}

-- Resumes CO and turns an error inside it into an error here, with the
-- coroutine's own traceback (the useful one).
local function resume(co, ...)
  local ok, err = coroutine.resume(co, ...)
  if not ok then
    error(debug.traceback(co, err), 0)
  end
end

function M.current()
  local co, is_main = coroutine.running()
  if is_main then
    error("this function waits, so it must run inside async.run or async.spawn_task", 3)
  end
  return co
end

-- Starts FN(...) as a task; returns at its first wait.
function M.spawn_task(fn, ...)
  resume(coroutine.create(fn), ...)
end

-- Runs FN(...) as a task and the loop until the loop has nothing left to
-- do; returns what FN returned. For commands with a beginning and an end.
function M.run(fn, ...)
  local results, failure
  local args = table.pack(...)
  local co = coroutine.create(function()
    results = table.pack(fn(table.unpack(args, 1, args.n)))
  end)
  local ok, err = coroutine.resume(co)
  if not ok then failure = debug.traceback(co, err) end
  while not failure and not results do
    if not uv.run("once") and not results then
      failure = "the task is waiting for something that will never happen"
    end
  end
  if failure then error(failure, 0) end
  return table.unpack(results, 1, results.n)
end

-- Waits MS milliseconds.
function M.sleep(ms)
  local co = M.current()
  local timer = uv.new_timer()
  -- Timers count from the loop's cached time, which is stale after a
  -- long stretch of work without a turn of the loop.
  uv.update_time()
  timer:start(ms, 0, function()
    timer:close()
    resume(co)
  end)
  coroutine.yield()
end

local function read_all_into(pipe, chunks, on_end)
  pipe:read_start(function(err, data)
    if data then
      chunks[#chunks + 1] = data
    else
      if err then chunks[#chunks + 1] = "" end
      pipe:close()
      on_end()
    end
  end)
end

-- Runs ARGV (never through a shell) and waits for it. Options:
--   timeout  milliseconds before SIGKILL (default: none)
--   stdin    a string to write to the child
--   env      a list of "NAME=value" (default: inherited)
--   cwd      the working directory
-- Returns {code, signal, stdout, stderr, timed_out}, or nil and a message
-- when the program cannot be started.
function M.execute(argv, options)
  options = options or {}
  local co = M.current()
  local stdin = options.stdin and uv.new_pipe(false) or nil
  local stdout, stderr = uv.new_pipe(false), uv.new_pipe(false)
  local result = { stdout = "", stderr = "", timed_out = false }
  local out_chunks, err_chunks = {}, {}
  local pending = 3 -- exit, stdout end, stderr end
  local timer
  local function one_done()
    pending = pending - 1
    if pending == 0 then
      if timer then timer:close() end
      result.stdout = table.concat(out_chunks)
      result.stderr = table.concat(err_chunks)
      resume(co)
    end
  end
  local args = {}
  for i = 2, #argv do args[i - 1] = argv[i] end
  local handle, pid_or_err
  handle, pid_or_err = uv.spawn(argv[1], {
    args = args,
    stdio = { stdin, stdout, stderr },
    env = options.env,
    cwd = options.cwd,
  }, function(code, signal)
    result.code, result.signal = code, signal
    handle:close()
    one_done()
  end)
  if not handle then
    for _, pipe in ipairs { stdin, stdout, stderr } do pipe:close() end
    return nil, ("cannot run %s: %s"):format(argv[1], pid_or_err)
  end
  result.pid = pid_or_err
  if stdin then
    stdin:write(options.stdin)
    stdin:shutdown(function() stdin:close() end)
  end
  read_all_into(stdout, out_chunks, one_done)
  read_all_into(stderr, err_chunks, one_done)
  if options.timeout then
    timer = uv.new_timer()
    timer:start(options.timeout, 0, function()
      result.timed_out = true
      -- The handle may already be closing if the exit raced the timer.
      if not handle:is_closing() then handle:kill("sigkill") end
    end)
  end
  coroutine.yield()
  return result
end

-- Runs ARGV on our own stdin, stdout and stderr (a program for the user's
-- terminal, such as tmux or ssh -t) and waits for it. Returns {code,
-- signal}, or nil and a message when it cannot be started.
function M.execute_attached(argv)
  local co = M.current()
  local result, handle, err
  handle, err = uv.spawn(argv[1], { args = table.move(argv, 2, #argv, 1, {}), stdio = { 0, 1, 2 } },
    function(code, signal)
      result = { code = code, signal = signal }
      handle:close()
      resume(co)
    end)
  if not handle then return nil, ("cannot run %s: %s"):format(argv[1], err) end
  coroutine.yield()
  return result
end

-- Runs every function in FNS concurrently and waits for all of them.
-- Returns their first results, in the same order.
function M.all(fns)
  local co = M.current()
  local results, remaining, waiting = {}, #fns, false
  for i, fn in ipairs(fns) do
    M.spawn_task(function()
      results[i] = fn()
      remaining = remaining - 1
      -- A function that never waited finished before we yield.
      if remaining == 0 and waiting then resume(co) end
    end)
  end
  if remaining > 0 then
    waiting = true
    coroutine.yield()
  end
  return results
end

-- Calls START(done) and waits until done(...) is called, even when that
-- happens before START returns; returns what done received. For luv's
-- callback-style calls: async.wait(function(done) uv.fs_statfs(path, done) end).
function M.wait(start)
  local co = M.current()
  local results, waiting = nil, false
  start(function(...)
    results = table.pack(...)
    if waiting then resume(co) end
  end)
  if not results then
    waiting = true
    coroutine.yield()
  end
  return table.unpack(results, 1, results.n)
end

return M
