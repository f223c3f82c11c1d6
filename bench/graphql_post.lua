-- bench/graphql_post.lua: wrk script for POST /graphql. The request body is read from the file
-- named by the environment variable GRAPHQL_BODY (a JSON {"query": ...} document); a bearer token,
-- when BENCH_TOKEN is set, is sent as Authorization. Used by bench/run.sh.
local path = os.getenv("GRAPHQL_BODY")
local f = assert(io.open(path, "rb"), "GRAPHQL_BODY must name a readable file")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
end
