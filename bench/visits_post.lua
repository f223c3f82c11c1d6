-- bench/visits_post.lua: wrk script for POST /api/v1/visits (bench/visits.sh). Every request is a
-- new, valid one-day visit: member k % M of the file BENCH_VISIT_MEMBERS (one id a line) on day
-- BENCH_VISIT_START + floor(k / M) (unix seconds of a UTC midnight), k = n * threads + thread
-- index, so no two requests overlap for one member and each member's month stays in its limit.
-- Body: {club_id: BENCH_VISIT_HOME, member_id, host_club_id: BENCH_VISIT_HOST, arrive_on,
-- depart_on, facilities: ["dining"]}; BENCH_TOKEN is sent as the bearer.
local members = {}
for line in assert(io.open(os.getenv("BENCH_VISIT_MEMBERS"), "r")):lines() do
    if line ~= "" then members[#members + 1] = line end
end
local start = tonumber(os.getenv("BENCH_VISIT_START"))
local home, host = os.getenv("BENCH_VISIT_HOME"), os.getenv("BENCH_VISIT_HOST")
local threads, counter = {}, 0

function setup(thread)
    thread:set("tid", #threads)
    threads[#threads + 1] = thread
end

function init(args)
    nthreads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
    n = 0
end

function request()
    local k = n * nthreads + (tid or 0)
    n = n + 1
    local m = members[(k % #members) + 1]
    local day = os.date("!%Y-%m-%d", start + math.floor(k / #members) * 86400)
    local body = string.format('{"club_id":"%s","member_id":"%s","host_club_id":"%s",' ..
        '"arrive_on":"%s","depart_on":"%s","facilities":["dining"]}', home, m, host, day, day)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")}, body)
end
