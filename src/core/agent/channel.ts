/**
 * A small async queue: producers push without waiting, one consumer iterates. With `merge`, an
 * item pushed while the consumer is behind may be folded into the last one still queued (the
 * agent loop folds text deltas of one turn): the queue then holds at most one such item per
 * run of them, however fast the model streams and however slow the consumer is.
 */
export class Channel<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private head = 0;
  private waiting?: (r: IteratorResult<T>) => void;
  private closed = false;
  private failure?: unknown;

  /** `merge(last, next)`: the one item that stands for both, or undefined to queue `next` on its own */
  constructor(private readonly merge?: (last: T, next: T) => T | undefined) {}

  push(item: T): void {
    if (this.closed) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: item, done: false });
      return;
    }
    if (this.merge && this.items.length > this.head) {
      const merged = this.merge(this.items[this.items.length - 1], item);
      if (merged !== undefined) {
        this.items[this.items.length - 1] = merged;
        return;
      }
    }
    this.items.push(item);
  }

  close(error?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    if (this.waiting && this.items.length === this.head) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: undefined as never, done: true });
    }
  }

  private take(): T {
    const item = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.items.length > this.head) {
        yield this.take();
        continue;
      }
      if (this.closed) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      const r = await new Promise<IteratorResult<T>>((resolve) => (this.waiting = resolve));
      if (r.done) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      yield r.value;
    }
  }
}
