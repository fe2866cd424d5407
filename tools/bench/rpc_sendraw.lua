-- wrk script: each thread POSTs its own slice of pre-signed eth_sendRawTransaction bodies
-- (one JSON body per line of $BODIES), then repeats cheap eth_blockNumber calls.
local threads = {}
local counter = 0

function setup(thread)
    thread:set("index", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

function init(args)
    bodies = {}
    local n = 0
    local stride = tonumber(os.getenv("THREADS"))
    for line in io.lines(os.getenv("BODIES")) do
        if n % stride == index then bodies[#bodies + 1] = line end
        n = n + 1
    end
    next_body = 1
    -- wrk calls request() once on thread 0's state before the run, to check the request
    -- (script_verify_request); that call must not use up a body, or one sender's nonce 0
    -- is never sent and its other transactions stay queued.
    verified = index ~= 0
end

function request()
    local body = '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'
    if not verified then
        verified = true
    elseif next_body <= #bodies then
        body = bodies[next_body]
        next_body = next_body + 1
    end
    return wrk.format("POST", "/", {["Content-Type"] = "application/json"}, body)
end
