/**
 * The sequence numbers one topic holds in a replayer's ring, oldest first: what lets a replay
 * read only its client's topics.
 */

/** An ascending list of sequence numbers that grows at the end and is evicted from the front. */
export class SeqIndex {
  private seqs: number[] = [];
  private head = 0;
  /** The newest sequence number evicted from this list (0: none). */
  lastEvicted = 0;

  /** Sequence numbers held. */
  get size(): number {
    return this.seqs.length - this.head;
  }

  /** Appends a sequence number larger than every one held. */
  push(seq: number): void {
    this.seqs.push(seq);
  }

  /** Evicts the oldest sequence number, which must be `seq`. */
  shift(seq: number): void {
    this.head++;
    this.lastEvicted = seq;
    // Drop the evicted prefix once it is most of the array, so memory follows what is held.
    if (this.head >= 64 && this.head * 2 >= this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }

  /** The sequence numbers after `after`, in order (binary search, then a copy). */
  after(after: number): number[] {
    const seqs = this.seqs;
    let lo = this.head;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqs[mid]! <= after) lo = mid + 1;
      else hi = mid;
    }
    return seqs.slice(lo);
  }
}
