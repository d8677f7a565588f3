-- A timestamp as the functions write it in JSON (chrono's RFC 3339: UTC as
-- 'Z', the fraction in 0, 3 or 6 digits, whichever is shortest and exact).
-- create-task builds a task.created event's data in the statement that
-- inserts the task (one round trip instead of four), and that data must read
-- exactly as the function's own answer does.
CREATE FUNCTION rfc3339(ts timestamptz) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE
                  WHEN micros = 0 THEN ''
                  WHEN micros % 1000 = 0 THEN '.' || lpad((micros / 1000)::text, 3, '0')
                  ELSE '.' || lpad(micros::text, 6, '0')
              END
           || 'Z'
    FROM (SELECT extract(microseconds FROM ts)::bigint % 1000000 AS micros) AS fraction
$$;
