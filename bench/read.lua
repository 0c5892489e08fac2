-- read.lua: GETs the request paths of a list file in turn, round and round.
--
--   wrk -t1 -c32 -d10s -s bench/read.lua http://127.0.0.1:PORT -- URLS_FILE
--
-- Each thread starts at its own offset in the list, so that connections do
-- not march through it in step. Requests are formatted once, in init().
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup

local requests, n, i = {}, 0, 0

function init(args)
   local paths = common.read_lines(args[1])
   for k, path in ipairs(paths) do
      requests[k] = wrk.format("GET", path)
   end
   n = #requests
   i = ((thread_number or 1) - 1) * 97 % n
end

function request()
   i = i % n + 1
   return requests[i]
end

function done(summary, latency, requests_)
   common.report(summary, latency, nil)
end
