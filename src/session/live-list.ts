/**
 * A list of live items (open sessions, requests in flight) with O(1) add and remove.
 *
 * Why not a Set: a long-lived Set (or Map) that sees an add and a delete per request keeps the
 * whole object graph of those requests alive across V8's young-generation collections — measured
 * on the per-request HTTP path, nearly every request's objects were promoted to the old generation
 * and lived until the next full collection, which doubled the cost of a request. A linked list
 * touches only its neighbours, and a removed node forgets both them and its value.
 */

/** The handle of one item in a LiveList; `remove` takes it back. */
export class LiveNode<T> {
  prev: LiveNode<T> | undefined = undefined;
  constructor(
    public value: T | undefined,
    public next: LiveNode<T> | undefined,
  ) {}
}

/** An unordered collection of live items, iterable, with a handle per item. */
export class LiveList<T> implements Iterable<T> {
  private head: LiveNode<T> | undefined;
  private count = 0;

  /** Items in the list. */
  get size(): number {
    return this.count;
  }

  /** Adds an item; the node returned removes it. */
  add(value: T): LiveNode<T> {
    const node = new LiveNode(value, this.head);
    if (this.head !== undefined) this.head.prev = node;
    this.head = node;
    this.count++;
    return node;
  }

  /** Removes an item by its node (idempotent); the node lets go of its neighbours and value. */
  remove(node: LiveNode<T>): void {
    if (node.value === undefined) return;
    const { prev, next } = node;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next !== undefined) next.prev = prev;
    node.value = undefined;
    node.prev = undefined;
    node.next = undefined;
    this.count--;
  }

  /** Empties the list. */
  clear(): void {
    let node = this.head;
    while (node !== undefined) {
      const next = node.next;
      node.value = undefined;
      node.prev = undefined;
      node.next = undefined;
      node = next;
    }
    this.head = undefined;
    this.count = 0;
  }

  /** Iterates the live items. Removing the current item is safe; to remove others, iterate a copy. */
  *[Symbol.iterator](): Iterator<T> {
    let node = this.head;
    while (node !== undefined) {
      const next = node.next;
      if (node.value !== undefined) yield node.value;
      node = next;
    }
  }
}
