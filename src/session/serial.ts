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
  return prefix + n.toString(36);
}
