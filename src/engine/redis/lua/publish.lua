-- Publish into a channel.
-- KEYS: 1 stream, 2 meta
-- ARGV: 1 candidate epoch, 2 history size, 3 stream ttl ms, 4 meta ttl ms
--       (0 = persist), 5 fan-out channel, 6 channel as JSON string,
--       7 history ('1' store + offset, '0' fan-out only), 8 data JSON,
--       9 info JSON or '', 10 tags JSON or ''
-- Returns {epoch, offset} (offset = top when not stored).
local stream, meta = KEYS[1], KEYS[2]
local epoch = tandem_epoch(meta, ARGV[1])
tandem_keep_meta(meta, ARGV[4])
if ARGV[7] ~= '1' then
  local msg = '{"t":"p","c":' .. ARGV[6] .. ',"e":"' .. epoch .. '","o":0,"d":' .. ARGV[8]
  if ARGV[9] ~= '' then msg = msg .. ',"i":' .. ARGV[9] end
  if ARGV[10] ~= '' then msg = msg .. ',"g":' .. ARGV[10] end
  redis.call('PUBLISH', ARGV[5], msg .. '}')
  return {epoch, tostring(tandem_top(meta))}
end
local offset = tandem_next_offset(stream, meta)
tandem_store_publish(stream, ARGV[5], ARGV[6], epoch, offset, ARGV[2], ARGV[3], ARGV[8], ARGV[9], ARGV[10])
return {epoch, string.format('%d', offset)}
