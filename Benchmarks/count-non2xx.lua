-- wrk script: counts responses that are not 2xx (wrk itself only reports socket errors
-- and "Non-2xx or 3xx"), by status code, plus which version (X-Version) answered.
-- Prints "LUA ..." lines in done(); Benchmarks/wrkparse.py reads them.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   responses = 0
   non2xx = 0
   statuses = {}
   versions = {}
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      statuses[status] = (statuses[status] or 0) + 1
   end
   local v = headers["x-version"] or headers["X-Version"] or "none"
   versions[v] = (versions[v] or 0) + 1
end

function done(summary, latency, requests)
   local total, bad = 0, 0
   local st, ver = {}, {}
   for _, t in ipairs(threads) do
      total = total + t:get("responses")
      bad = bad + t:get("non2xx")
      for k, n in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + n end
      for k, n in pairs(t:get("versions")) do ver[k] = (ver[k] or 0) + n end
   end
   io.write(string.format("LUA responses=%d non2xx=%d\n", total, bad))
   for k, n in pairs(st) do io.write(string.format("LUA status %s=%d\n", tostring(k), n)) end
   for k, n in pairs(ver) do io.write(string.format("LUA version %s=%d\n", tostring(k), n)) end
end
