-- bench/visits_charges.lua: wrk script for POST /api/v1/visits/{id}/charges (bench/visits.sh):
-- one dining line (1 x 4500 minor units, 20 % tax) per request, cycling through the checked-in
-- visits of the file BENCH_VISIT_IDS (one id a line; each thread starts at its own offset); the
-- URL given to wrk is /api/v1/visits, the id and /charges are appended. BENCH_TOKEN is sent as
-- the bearer. Every answer that is not 2xx is appended to the file BENCH_FAIL_LOG (when set),
-- one line each: the status and the body, so a failing row shows why. BENCH_CHARGE_LINES (1): with
-- N > 1 each request posts a whole bill of N such lines ({lines: [...]}, bench/charges.sh).
local ids = {}
for line in assert(io.open(os.getenv("BENCH_VISIT_IDS"), "r")):lines() do
    if line ~= "" then ids[#ids + 1] = line end
end
local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    threads[#threads + 1] = thread
end

function init(args)
    nthreads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
    n = 0
end

local nlines = tonumber(os.getenv("BENCH_CHARGE_LINES") or "1")
local line = '{"category":"dining","description":"Dinner","unit_amount":4500,"tax_amount":900,' ..
    '"tax_rate_bp":2000}'
local body = line
if nlines > 1 then
    local parts = {}
    for i = 1, nlines do parts[i] = line end
    body = '{"lines":[' .. table.concat(parts, ",") .. ']}'
end

function request()
    local k = n * nthreads + (tid or 0)
    n = n + 1
    return wrk.format("POST", wrk.path .. "/" .. ids[(k % #ids) + 1] .. "/charges",
        {["Content-Type"] = "application/json",
         ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")},
        body)
end

local fail_log = os.getenv("BENCH_FAIL_LOG")

function response(status, headers, body)
    if status >= 300 and fail_log then
        local f = io.open(fail_log, "a")
        if f then
            f:write(status, " ", ((body or ""):gsub("\n", " ")), "\n")
            f:close()
        end
    end
end
