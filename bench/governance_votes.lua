-- bench/governance_votes.lua: POST a network vote, the network administrator acting for the
-- clubs in turn (bench/governance_votes.sh prepends `clubs`, the club ids, and `path`); the
-- choices alternate for / against. A policy proposal allows changing a vote, so each request is
-- a cast and queues a new governance.vote_cast record.
local n = 0
local choices = {"for", "against"}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    n = n + 1
    local body = string.format('{"club_id":"%s","choice":"%s"}', clubs[(n % #clubs) + 1],
        choices[(n % 2) + 1])
    return wrk.format("POST", path, nil, body)
end
