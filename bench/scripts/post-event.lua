-- wrk: POST a new (never seen) task.created CloudEvent each request, binary mode.
local thread_id = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("prefix", "bench-" .. os.time() .. "-" .. thread_id)
end
local counter = 0
local body = '{"id":1,"title":"bench","description":null,"status":"pending",'
  .. '"created_at":"2026-11-24T06:00:00Z","updated_at":"2026-11-24T06:00:00Z","version":1}'
function request()
  counter = counter + 1
  return wrk.format("POST", "/", {
    ["ce-specversion"] = "1.0",
    ["ce-id"] = prefix .. "-" .. counter,
    ["ce-type"] = "task.created",
    ["ce-source"] = "/bench",
    ["ce-subject"] = "1",
    ["Content-Type"] = "application/json",
  }, body)
end
