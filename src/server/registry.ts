import { preserialize, preserializeFrozen } from '../protocol/serialize.js';

/**
 * Registries for tools, resources, resource templates and prompts. Each keeps its entries in
 * registration order and precomputes its listing payload, rebuilt only when the set changes.
 */

/** Results of a paginated listing: shared between requests, and frozen (see `Registry.descriptors`). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor?: string;
}

/** Cursors are opaque to clients; ours encode the offset and the listing's version. */
function encodeCursor(offset: number, version: number): string {
  return Buffer.from(`${version}:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string): { offset: number; version: number } | undefined {
  const m = /^(\d+):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) return undefined;
  return { version: Number(m[1]), offset: Number(m[2]) };
}

/** Thrown for a cursor this registry did not issue. */
export class InvalidCursorError extends Error {}

/**
 * An ordered, named collection with a cached listing. `onChange` fires after every change
 * (the server turns it into a `list_changed` notification).
 */
export class Registry<E extends { key: string; descriptor: D }, D = E['descriptor']> {
  private readonly entries = new Map<string, E>();
  private listing: readonly D[] | undefined;
  /**
   * Pages of the current listing by offset, each pre-serialised: at most one per page of the
   * listing (cursors carry only page boundaries), dropped whenever the listing changes.
   */
  private readonly pages = new Map<number, Page<D>>();
  private pagesOf = 0;
  private version = 0;

  constructor(
    private readonly kind: string,
    private readonly onChange: () => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): E | undefined {
    return this.entries.get(key);
  }

  values(): IterableIterator<E> {
    return this.entries.values();
  }

  add(entry: E): void {
    if (this.entries.has(entry.key)) throw new Error(`${this.kind} "${entry.key}" is already registered`);
    this.entries.set(entry.key, entry);
    this.changed();
  }

  replace(key: string, entry: E): void {
    if (!this.entries.has(key)) throw new Error(`${this.kind} "${key}" is not registered`);
    if (key !== entry.key) {
      if (this.entries.has(entry.key)) throw new Error(`${this.kind} "${entry.key}" is already registered`);
      // Keep registration order when renaming.
      const rebuilt = [...this.entries].map(([k, v]) =>
        k === key ? ([entry.key, entry] as const) : ([k, v] as const),
      );
      this.entries.clear();
      for (const [k, v] of rebuilt) this.entries.set(k, v);
    } else {
      this.entries.set(key, entry);
    }
    this.changed();
  }

  remove(key: string): boolean {
    const removed = this.entries.delete(key);
    if (removed) this.changed();
    return removed;
  }

  private changed(): void {
    this.listing = undefined;
    this.pages.clear();
    this.version++;
    this.onChange();
  }

  /**
   * Every descriptor, computed once per change: a deep-frozen copy, as clients receive it (JSON), of
   * the registered descriptors (which stay as they are). Listings are pre-serialised and shared by
   * every request, so a middleware that edits one in place (`result.tools.splice(...)`,
   * `tool.description = ...`) gets a TypeError from the frozen value, rather than changing what the
   * in-memory transport sends but not the cached text that HTTP, stdio and WebSocket send, and every
   * later listing with it; and no request's edit can reach another request holding the same
   * listing, as it could if edits were merely detected at send time. To change a listing, return a
   * new array: `{ ...r, tools: r.tools.filter(f) }`. Reading costs a little more: on Node 20, V8's
   * `filter`, `forEach`, `some`, `find` and `slice` take a slow path on a frozen array (~4 µs for 100
   * items, against ~0.1–0.7); an index loop over one stays fast (~0.6 µs).
   */
  descriptors(): readonly D[] {
    this.listing ??= preserializeFrozen([...this.entries.values()].map((e) => e.descriptor));
    return this.listing;
  }

  /** One page of the listing. `pageSize` 0 or less means one page with everything. */
  page(cursor: string | undefined, pageSize: number): Page<D> {
    const all = this.descriptors();
    let offset = 0;
    if (cursor !== undefined) {
      const decoded = decodeCursor(cursor);
      // Only the offsets our cursors carry: a page boundary inside the current listing. Any other
      // offset would be a page of its own, serialised and kept, one per forged cursor.
      if (
        !decoded ||
        decoded.version !== this.version ||
        pageSize <= 0 ||
        decoded.offset === 0 ||
        decoded.offset % pageSize !== 0 ||
        decoded.offset >= all.length
      ) {
        throw new InvalidCursorError(`Invalid cursor for ${this.kind} listing`);
      }
      offset = decoded.offset;
    }
    if (pageSize <= 0 || (offset === 0 && all.length <= pageSize)) return { items: all };
    // Pages are computed (and serialised) once per listing.
    if (pageSize !== this.pagesOf) {
      this.pages.clear();
      this.pagesOf = pageSize;
    }
    let page = this.pages.get(offset);
    if (page === undefined) {
      const end = offset + pageSize;
      // The items are the listing's own, already frozen; the page is too, shared like the listing.
      const items = preserialize(Object.freeze(all.slice(offset, end)));
      page = Object.freeze(
        end < all.length ? { items, nextCursor: encodeCursor(end, this.version) } : { items },
      );
      this.pages.set(offset, page);
    }
    return page;
  }
}
