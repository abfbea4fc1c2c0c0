-- wrk script for `pnpm bench`: cycles through "path<TAB>token" lines of the file named by the
-- first script argument (one request per line, every connection starting at its own offset).
local lines = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    local path, token = line:match("^(%S+)\t?(%S*)$")
    lines[#lines + 1] = { path = path, token = token }
  end
  i = math.random(#lines)
end

function request()
  i = i % #lines + 1
  local l = lines[i]
  local headers = {}
  if l.token ~= "" then headers["Authorization"] = "Bearer " .. l.token end
  return wrk.format("GET", l.path, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
