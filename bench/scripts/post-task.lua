-- wrk: POST /api/tasks with a small JSON body.
wrk.method = "POST"
wrk.body = '{"title":"bench"}'
wrk.headers["Content-Type"] = "application/json"
