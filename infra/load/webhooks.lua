-- wrk script: replays signed webhook requests prepared by `osa loadgen`,
-- one `signature<TAB>body` a line, each thread from its own offset.
local requests = {}

function init(args)
  local path = args[1]
  local i = 0
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    if tab then
      i = i + 1
      requests[i] = wrk.format("POST", "/api/webhooks/opal-workflow", {
        ["Content-Type"] = "application/json",
        ["X-OSA-Signature"] = line:sub(1, tab - 1),
      }, line:sub(tab + 1))
    end
  end
  if i == 0 then error("no requests in " .. path) end
  counter = math.random(i)
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end

statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
