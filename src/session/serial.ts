/**
 * Ids made from a counter: a prefix and the count in base 36 (`m1b`, `s2f/3k`).
 *
 * Not `${prefix}${n}`: V8 keeps the base-10 string of a number it converts in a number-to-string
 * cache, which lives in the old generation. A counter converts a new number every time, so every id
 * sat in that cache across young-generation collections and was promoted — one small string per
 * request, but a steady stream into the old generation (it was all that the stateless HTTP path still
 * promoted). Base 36 goes through a conversion that does not use the cache.
 */
export function serialId(prefix: string, n: number): string {
  if (!(Number.isSafeInteger(n) && n >= 0)) return prefix + n.toString(36);
  if (n < PAIR) return prefix + SMALL[n];
  const high = Math.floor(n / PAIR);
  return prefix + highText(high) + PAIRS[n - high * PAIR];
}

/**
 * `n.toString(36)` runs in the runtime (~150 ns), and two ids are made per stateless request. So the
 * last two base-36 digits come from a table, and the rest from a conversion remembered for the last
 * two leading parts (one per counter in use at a time; they change once every 1,296 ids).
 */
const PAIR = 36 * 36;
const SMALL = Array.from({ length: PAIR }, (_, i) => i.toString(36));
const PAIRS = SMALL.map((digits) => digits.padStart(2, '0'));
let highA = -1;
let textA = '';
let highB = -1;
let textB = '';

function highText(high: number): string {
  if (high === highA) return textA;
  if (high === highB) return textB;
  // The older entry goes.
  highB = highA;
  textB = textA;
  highA = high;
  textA = high.toString(36);
  return textA;
}
