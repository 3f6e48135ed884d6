-- Runs every host check at once and reports what works, what does not,
-- why, and how to fix it.
local async = require "sbx.async"

local M = {}

M.check_modules = {
  "sbx.checks.userns", "sbx.checks.tools", "sbx.checks.claude",
  "sbx.checks.container", "sbx.checks.vm",
}

function M.all_checks()
  local checks = {}
  for _, name in ipairs(M.check_modules) do
    for _, check in ipairs(require(name)) do checks[#checks + 1] = check end
  end
  return checks
end

-- Runs CHECKS concurrently (several start programs and wait); a check
-- that raises is reported as failed, not fatal. Waits.
function M.run(checks)
  local tasks = {}
  for i, check in ipairs(checks) do
    tasks[i] = function()
      local ok, result = xpcall(check.run, debug.traceback)
      if not ok then result = { status = "fail", summary = "the check itself failed: " .. result } end
      result.id, result.title, result.essential = check.id, check.title, check.essential
      return result
    end
  end
  return async.all(tasks)
end

-- Applies the fix of each failed check that has one and checks it again,
-- updating REPORT. Returns the lines saying what was done. Waits.
function M.fix(checks, report)
  local done = {}
  for i, check in ipairs(checks) do
    if check.fix and report[i].status == "fail" then
      local what, err = check.fix()
      done[#done + 1] = what and (check.title .. ": " .. what)
        or (check.title .. ": could not fix: " .. err)
      report[i] = M.run({ check })[1]
    end
  end
  return done
end

-- 1 when something sbx cannot work without is broken, else 0.
function M.exit_code(report)
  for _, result in ipairs(report) do
    if result.essential and result.status == "fail" then return 1 end
  end
  return 0
end

function M.render(report)
  local lines, width = {}, 0
  for _, result in ipairs(report) do width = math.max(width, #result.title) end
  for _, result in ipairs(report) do
    lines[#lines + 1] = ("%-4s  %-" .. width .. "s  %s"):format(result.status, result.title, result.summary)
    if result.fix and result.status ~= "ok" then
      lines[#lines + 1] = (" "):rep(width + 8) .. "fix: " .. result.fix
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

return M
