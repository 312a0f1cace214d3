/** A node of a {@link RecencyList}: the list threads through the nodes themselves (no wrapper per node). */
export interface RecencyNode<N> {
  /** The next more recently used node, `undefined` for the newest. */
  newer: N | undefined;
  /** The next less recently used node, `undefined` for the oldest. */
  older: N | undefined;
}

/**
 * An intrusive doubly linked list ordered by last use: the bookkeeping of LRU eviction. Every operation is
 * O(1) and allocation-free; marking a node as used is a handful of pointer writes, which is why it is used
 * instead of re-inserting into a `Map` (a delete plus set on every hit measured several times slower).
 */
export class RecencyList<N extends RecencyNode<N>> {
  /** The most recently used node. */
  newest: N | undefined = undefined;
  /** The least recently used node: the next one to evict. */
  oldest: N | undefined = undefined;

  /** Adds a node that is not in the list as the most recently used. */
  pushNewest(node: N): void {
    node.newer = undefined;
    node.older = this.newest;
    if (this.newest === undefined) this.oldest = node;
    else this.newest.newer = node;
    this.newest = node;
  }

  /** Marks a node already in the list as the most recently used. */
  touch(node: N): void {
    // The common case on a hot key: it is already the newest, nothing to move.
    if (node === this.newest) return;
    this.remove(node);
    this.pushNewest(node);
  }

  /** Takes a node out of the list. */
  remove(node: N): void {
    const { newer, older } = node;
    if (newer === undefined) this.newest = older;
    else newer.older = older;
    if (older === undefined) this.oldest = newer;
    else older.newer = newer;
    node.newer = undefined;
    node.older = undefined;
  }

  /** Forgets every node. */
  clear(): void {
    this.newest = undefined;
    this.oldest = undefined;
  }
}
