-- bench/visits_door.lua: wrk script for the door (bench/visits.sh): POST {"token": ...} to the
-- URL (/api/v1/visits/check-in or /api/v1/lois/verify), cycling through the letters of the file
-- BENCH_LOI_TOKENS (one token a line; each thread starts at its own offset). BENCH_TOKEN is sent
-- as the bearer. BENCH_LOI_ONCE=1: each thread stops once it has had as many answers as it has
-- letters (each letter sent about once: first check-ins only; up to the connections' requests
-- in flight more).
local tokens = {}
for line in assert(io.open(os.getenv("BENCH_LOI_TOKENS"), "r")):lines() do
    if line ~= "" then tokens[#tokens + 1] = line end
end
local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    threads[#threads + 1] = thread
end

function init(args)
    nthreads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
    n = 0
    answers = 0
    once = os.getenv("BENCH_LOI_ONCE") == "1"
end

function response(status, headers, body)
    answers = answers + 1
    if once and answers * nthreads >= #tokens then wrk.thread:stop() end
end

function request()
    local k = n * nthreads + (tid or 0)
    n = n + 1
    return wrk.format("POST", nil, {["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")},
        '{"token":"' .. tokens[(k % #tokens) + 1] .. '"}')
end
