/**
 * A Map for what is usually one entry: a per-request session has one request in flight, a POST's
 * outbox waits for one answer. The first entry lives in two fields; a real Map is made only when a
 * second one arrives. (A Map costs ~200 bytes to create and reallocates its table when emptied —
 * on the per-request path that was two allocations per request for one entry.)
 *
 * Past one entry, values sit in slots that are emptied on delete. A long-lived Map that sees an add
 * and a delete per request reallocates its table every few dozen requests, and a discarded table in
 * the old generation keeps what it pointed at alive until the next full collection — with plain
 * values, every request of a legacy session (its context, its outbox, the exchange) was promoted:
 * ~1 KB a request. An emptied slot holds nothing. And the Map form is rebuilt every few hundred
 * deletes (or dropped when emptied), so its tables stay young rather than leaving one of garbage in
 * the old generation at every rehash.
 */

/** Where a value lives in the Map form; emptied when the entry is deleted. */
class Slot<V> {
  constructor(public value: V | undefined) {}
}
/** Deletes a Map form sees before it is rebuilt young (see `delete`). */
const REBUILD_AFTER = 256;

export class SmallMap<K, V> {
  private soloKey: K | undefined;
  private soloValue: V | undefined;
  private hasSolo = false;
  private map: Map<K, Slot<V>> | undefined;
  private deletes = 0;

  get size(): number {
    return this.map !== undefined ? this.map.size : this.hasSolo ? 1 : 0;
  }

  has(key: K): boolean {
    if (this.map !== undefined) return this.map.has(key);
    return this.hasSolo && this.soloKey === key;
  }

  get(key: K): V | undefined {
    if (this.map !== undefined) return this.map.get(key)?.value;
    return this.hasSolo && this.soloKey === key ? this.soloValue : undefined;
  }

  set(key: K, value: V): this {
    if (this.map !== undefined) {
      const slot = this.map.get(key);
      if (slot !== undefined) slot.value = value;
      else this.map.set(key, new Slot(value));
    } else if (!this.hasSolo || this.soloKey === key) {
      this.soloKey = key;
      this.soloValue = value;
      this.hasSolo = true;
    } else {
      this.map = new Map();
      this.map.set(this.soloKey as K, new Slot(this.soloValue));
      this.map.set(key, new Slot(value));
      this.soloKey = undefined;
      this.soloValue = undefined;
      this.hasSolo = false;
    }
    return this;
  }

  delete(key: K): boolean {
    if (this.map !== undefined) {
      const slot = this.map.get(key);
      if (slot === undefined) return false;
      slot.value = undefined;
      this.map.delete(key);
      // V8 allocates a Map's rehashed tables in the generation its current table is in: once a
      // long-lived Map is old, every rehash (one per few dozen adds and deletes) leaves a table of
      // garbage in the old generation. A Map rebuilt every few hundred deletes stays young, and so
      // do its tables. (Emptied, it goes back to the one-entry form.)
      if (this.map.size === 0) this.map = undefined;
      else if (++this.deletes >= REBUILD_AFTER) this.rebuild();
      return true;
    }
    if (!this.hasSolo || this.soloKey !== key) return false;
    this.soloKey = undefined;
    this.soloValue = undefined;
    this.hasSolo = false;
    return true;
  }

  private rebuild(): void {
    this.deletes = 0;
    this.map = new Map(this.map);
  }

  clear(): void {
    if (this.map !== undefined) for (const slot of this.map.values()) slot.value = undefined;
    this.map = undefined;
    this.soloKey = undefined;
    this.soloValue = undefined;
    this.hasSolo = false;
  }

  /** The keys, as a snapshot (safe to delete from while iterating). */
  keys(): K[] {
    if (this.map !== undefined) return [...this.map.keys()];
    return this.hasSolo ? [this.soloKey as K] : [];
  }

  /** The values, as a snapshot (safe to delete from while iterating). */
  values(): V[] {
    if (this.map !== undefined) return [...this.map.values()].map((slot) => slot.value as V);
    return this.hasSolo ? [this.soloValue as V] : [];
  }
}
