-- mix.lua: 90% reads, 10% writes, interleaved: of every ten requests, nine
-- are the next paths of a read list and one creates something, comments and
-- articles in turn. Answers are tallied by status (reads answer 200, writes
-- 201; anything else is a failure).
--
--   wrk ... -s bench/mix.lua http://127.0.0.1:PORT -- READS_FILE IDS_FILE KEY [TAG]
--
-- TAG (default "Mix") starts the titles of the articles created, so that
-- servers measured in turn on one database make titles of their own.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup

local reads, ids, key, tag = {}, nil, nil, "Mix"
local counter, nreads, r, writes = 0, 0, 0, 0
local article_headers = {}
local comment_headers = {["Content-Type"] = "application/json"}

function init(args)
   for k, path in ipairs(common.read_lines(args[1])) do
      reads[k] = wrk.format("GET", path)
   end
   nreads = #reads
   r = ((thread_number or 1) - 1) * 97 % nreads
   ids = common.read_lines(args[2])
   article_headers["Content-Type"] = "application/json"
   article_headers["Authorization"] = "Bearer " .. args[3]
   tag = args[4] or tag
   math.randomseed(2000 + (thread_number or 1))
end

local function write_request()
   writes = writes + 1
   if writes % 2 == 0 then
      local body = string.format(
         '{"title":"%s %d %d %s","body":"%s","tags":["bench"],"category":"Bench"}',
         tag, thread_number or 1, writes, common.words(5), common.body(3000 + math.random(3000)))
      return wrk.format("POST", "/v1/articles", article_headers, body)
   end
   local id = ids[(writes - 1) % #ids + 1]
   local body = string.format('{"author":"mix %d","body":"%s"}', writes,
                              common.words(10 + math.random(60)))
   return wrk.format("POST", "/v1/articles/" .. id .. "/comments", comment_headers, body)
end

function request()
   counter = counter + 1
   if counter % 10 == 0 then
      return write_request()
   end
   r = r % nreads + 1
   return reads[r]
end

common.tally_statuses()
