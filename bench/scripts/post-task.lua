-- wrk: POST /api/tasks with a small JSON body (wrk.headers already holds
-- the headers given with -H, the token among them).
wrk.method = "POST"
wrk.body = '{"title":"bench"}'
wrk.headers["Content-Type"] = "application/json"
