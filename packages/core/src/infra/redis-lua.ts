// Lua shared by the scripts that read what another hand may have written into Redis.

/**
 * `integer(raw)`: whether a string is digits as INCR writes them. Lua's tonumber also takes '4.0', ' 4'
 * and '0x4', which INCR then refuses; 15 digits keep it within what both count exactly.
 */
export const LUA_INTEGER = `
local function integer(raw)
  return #raw <= 15 and (raw == '0' or string.match(raw, '^[1-9]%d*$') ~= nil)
end`;
