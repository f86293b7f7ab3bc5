-- wrk script for benchmarks/serve.py: one-ticket POST /classify requests over varied real tickets.
--   WRK_BODIES    file with one JSON request body per line (required)
--   WRK_TOKEN     bearer token (optional)
--   WRK_PATH      request path (optional; default /classify, /invocations for `mlflow models serve`)
--   WRK_DELAY_MS  mean think time per connection, exponential (optional; 0 = closed loop, as fast as possible)
-- done() prints one line "WRK_JSON {...}" with counts and latency percentiles (microseconds).

local requests = {}
local index = 1
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  local path = os.getenv("WRK_PATH") or "/classify"
  if path == "" then
    path = "/classify"
  end
  local token = os.getenv("WRK_TOKEN")
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  for line in io.lines(os.getenv("WRK_BODIES")) do
    requests[#requests + 1] = wrk.format("POST", path, headers, line)
  end
  math.randomseed(os.time())
  index = math.random(#requests)
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function delay()
  if delay_ms <= 0 then
    return 0
  end
  return math.floor(-math.log(1 - math.random()) * delay_ms)
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "latency_us": {"mean": %.1f, "p50": %d, "p90": %d, ' ..
    '"p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
