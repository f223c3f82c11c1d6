-- bench/refresh.lua: wrk script for POST /api/v1/auth/refresh (bench/run.sh). A refresh token is
-- single use (presenting it twice is a reuse and ends its session), so each request takes an
-- unused token from a queue and each answer puts its new token back: every connection rotates
-- its own chain. The starting tokens (one sign-in per connection) are the lines of the file
-- $BENCH_REFRESH_TOKENS (a few more than connections: wrk calls request() once extra to check the
-- script); with $BENCH_WRK_THREADS threads, thread k takes lines k, k + n, ... An empty queue
-- (a lost token) shows up as non-2xx answers and a note on stderr (the wrk log).
local counter = 0
function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

local queue = {}
function init(args)
    local n, threads = 0, tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
    for line in io.lines(os.getenv("BENCH_REFRESH_TOKENS")) do
        if line ~= "" and n % threads == (id or 0) then
            table.insert(queue, line)
        end
        n = n + 1
    end
end

local empty = 0
function request()
    local tok = table.remove(queue, 1)
    if not tok then
        tok = "exhausted"
        empty = empty + 1
        if empty <= 3 then io.stderr:write("refresh: no unused token left\n") end
    end
    return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
        '{"refresh_token":"' .. tok .. '"}')
end

local shown = 0
function response(status, headers, body)
    local tok = body and string.match(body, '"refresh_token":"([^"]+)"')
    if tok then
        table.insert(queue, tok)
    elseif shown < 5 then -- the first few failures, for the log
        shown = shown + 1
        io.stderr:write("refresh answered " .. status .. ": " .. (body or "") .. "\n")
    end
end
