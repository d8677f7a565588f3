-- wrk: POST a new (never seen) task.created CloudEvent each request, binary
-- mode, each for its own task (as real traffic is: a task has a few events).
local thread_id = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("prefix", "bench-" .. os.time() .. "-" .. thread_id)
end
local counter = 0
function request()
  counter = counter + 1
  local task = tostring(1000000 + counter)
  local body = '{"id":' .. task .. ',"title":"bench","description":null,"status":"pending",'
    .. '"created_at":"2026-11-24T06:00:00Z","updated_at":"2026-11-24T06:00:00Z","version":1}'
  -- A headers table of our own replaces wrk.headers: those given with -H
  -- go into it first, so that they are sent too.
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["ce-specversion"] = "1.0"
  headers["ce-id"] = prefix .. "-" .. counter
  headers["ce-type"] = "task.created"
  headers["ce-source"] = "/bench"
  headers["ce-subject"] = task
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/", headers, body)
end
