-- Read a channel's history (creates the epoch when the meta is missing).
-- KEYS: 1 stream, 2 meta
-- ARGV: 1 candidate epoch, 2 meta ttl ms (0 = persist), 3 '1' when a since
--       position is given, 4 its epoch ('' = any), 5 its offset, 6 limit,
--       7 '1' for newest first
-- Returns {epoch, top, ok, entries}; ok = 0 when the since epoch differs.
local stream, meta = KEYS[1], KEYS[2]
local epoch = tandem_epoch(meta, ARGV[1])
tandem_keep_meta(meta, ARGV[2])
local top = tostring(tandem_top(meta))
local has_since = ARGV[3] == '1'
if has_since and ARGV[4] ~= '' and ARGV[4] ~= epoch then
  return {epoch, top, 0, {}}
end
local limit = tonumber(ARGV[6])
local entries = {}
if limit > 0 then
  local since = tonumber(ARGV[5])
  if ARGV[7] == '1' then
    if not has_since then
      entries = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', limit)
    elseif since > 1 then
      entries = redis.call('XREVRANGE', stream, string.format('%d', since - 1), '-', 'COUNT', limit)
    end
  else
    local start = '-'
    if has_since then start = string.format('%d', since + 1) end
    entries = redis.call('XRANGE', stream, start, '+', 'COUNT', limit)
  end
end
return {epoch, top, 1, entries}
