-- What a session's global index entries must be, read from its own slot
-- (split mode): the follow-up and the repair task apply it.
-- KEYS: 1 record hash, 2 collaborators set, 3 removed users set, 4 tombstone
-- Returns {'live', version, status, quiet since ms, activity ms, mission id,
--          collaborators, removed users}
--       | {'deleted', mission id, users} | {'none'}.
local rec = redis.call('HMGET', KEYS[1], 'v', 's', 'a', 'u', 'm')
if rec[1] then
  local a = tonumber(rec[3] or '0')
  local since = math.max(a, tonumber(rec[4] or '0'))
  return {'live', rec[1], rec[2] or '', string.format('%d', since), string.format('%d', a),
    rec[5] or '', redis.call('SMEMBERS', KEYS[2]), redis.call('SMEMBERS', KEYS[3])}
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  local users = {}
  for _, field in ipairs(redis.call('HKEYS', KEYS[4])) do
    if string.sub(field, 1, 2) == 'u:' then
      users[#users + 1] = string.sub(field, 3)
    end
  end
  return {'deleted', redis.call('HGET', KEYS[4], 'm') or '', users}
end
return {'none'}
