// Lua runs atomically in Redis: the bound check and the add cannot interleave
// with another API process, and an entry's removal and the event counter's
// decrement happen together or not at all, so the counter never drifts.

// Each entry holds one project's events ('p'; entries queued before projects
// have none and belong to project 1). Two hashes count per project what the
// queue status shows a project's key: its queued events and its dead letters.

// An entry's event count and project, from its fields. An entry queued
// before projects has no project: it was never counted in per project, so it
// is not counted out (its dead letters count as the default project's).
const ENTRY_FIELDS = `
local function counted(fields)
  local n, p = 0, nil
  for j = 1, #fields, 2 do
    if fields[j] == 'n' then n = tonumber(fields[j + 1]) or 0 end
    if fields[j] == 'p' then p = fields[j + 1] end
  end
  return n, p
end
`

/**
 * KEYS: stream, counter, queued per project. ARGV: max events, event count,
 * request id, COPY rows, project. Returns the entry id, or false when full.
 */
export const ENQUEUE = `
local queued = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = tonumber(ARGV[2])
if queued + n > tonumber(ARGV[1]) then return false end
redis.call('INCRBY', KEYS[2], n)
redis.call('HINCRBY', KEYS[3], ARGV[5], n)
return redis.call('XADD', KEYS[1], '*', 'n', ARGV[2], 'p', ARGV[5], 'rid', ARGV[3], 'rows', ARGV[4])
`

/** KEYS: stream, counter, queued per project. ARGV: group, ids... Acknowledges and deletes; only the first ack of an id counts. */
export const ACK = `${ENTRY_FIELDS}
local removed = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('XACK', KEYS[1], ARGV[1], id) == 1 then
    local entry = redis.call('XRANGE', KEYS[1], id, id)[1]
    if entry then
      local n, p = counted(entry[2])
      removed = removed + n
      if n > 0 and p then redis.call('HINCRBY', KEYS[3], p, -n) end
      redis.call('XDEL', KEYS[1], id)
    end
  end
end
if removed > 0 then redis.call('DECRBY', KEYS[2], removed) end
return removed
`

/**
 * KEYS: stream, counter, dead-letter stream, queued per project, dead letters
 * per project. ARGV: group, id, error, deliveries, failedAt. Copies the entry
 * with its error, then removes it.
 */
export const DEAD_LETTER = `${ENTRY_FIELDS}
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])[1]
if not entry then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  return 0
end
local fields = entry[2]
local n, p = counted(fields)
redis.call('XADD', KEYS[3], '*', 'source_id', ARGV[2], 'error', ARGV[3], 'deliveries', ARGV[4], 'failed_at', ARGV[5], unpack(fields))
redis.call('HINCRBY', KEYS[5], p or '1', 1)
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('XDEL', KEYS[1], ARGV[2])
  if n > 0 then
    redis.call('DECRBY', KEYS[2], n)
    if p then redis.call('HINCRBY', KEYS[4], p, -n) end
  end
end
return 1
`

/**
 * KEYS: stream, counter, dead-letter stream, queued per project, dead letters
 * per project. ARGV: group, id, deliveries, failedAt, then (error, events) pairs. Adds one dead-letter record per pair and removes the
 * entry, whose other events are stored. Only the consumer whose XACK counts
 * writes the records, so two workers that both held the entry do not double them.
 */
export const DEAD_LETTER_EVENTS = `${ENTRY_FIELDS}
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])[1]
if not entry or redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local fields = entry[2]
local n, p = counted(fields)
local rid = ''
for j = 1, #fields, 2 do
  if fields[j] == 'rid' then rid = fields[j + 1] end
end
for i = 5, #ARGV, 2 do
  redis.call('XADD', KEYS[3], '*', 'source_id', ARGV[2], 'error', ARGV[i], 'deliveries', ARGV[3], 'failed_at', ARGV[4], 'n', '1', 'p', p or '1', 'rid', rid, 'events', ARGV[i + 1])
  redis.call('HINCRBY', KEYS[5], p or '1', 1)
end
redis.call('XDEL', KEYS[1], ARGV[2])
if n > 0 then
  redis.call('DECRBY', KEYS[2], n)
  if p then redis.call('HINCRBY', KEYS[4], p, -n) end
end
return 1
`
