/**
 * The batcher's request deadlines: unanswered requests, oldest first, with answered ones skipped
 * lazily. Every request has the same budget, so arrival order is deadline order too, and one
 * timer for the oldest replaces a timer per request (a setTimeout and a clearTimeout each, ~1.5%
 * of the HTTP thread under load).
 *
 * @module
 */

/** What the queue needs of a request: when it arrived, and whether it has been answered. */
export interface Deadlined {
  readonly enqueuedAt: number;
  readonly state: string;
}

/** Requests in deadline order, one timer for the oldest. */
export class DeadlineQueue<T extends Deadlined> {
  #items: T[] = [];
  #head = 0;
  #timer?: NodeJS.Timeout;
  readonly #budgetMs: number;
  readonly #expired: (item: T) => void;

  /**
   * @param budgetMs - Each request's budget from its arrival, in ms.
   * @param expired - Answers a request past its budget (it must then count as `done`).
   */
  constructor(budgetMs: number, expired: (item: T) => void) {
    this.#budgetMs = budgetMs;
    this.#expired = expired;
  }

  /** Adds a request that has just arrived. */
  push(item: T): void {
    this.#items.push(item);
    this.#timer ??= setTimeout(() => this.#expire(), this.#budgetMs);
  }

  /**
   * After a request was answered: moves the head past answered requests and keeps the list small.
   * @param unanswered - Requests not answered yet, to bound the answered ones kept behind a long-running one.
   */
  forget(unanswered: number): void {
    const list = this.#items;
    while (this.#head < list.length && list[this.#head]!.state === 'done') this.#head++;
    if (this.#head === list.length) {
      // Nothing left to time out: no timer holds the process open.
      this.#items = [];
      this.#head = 0;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    } else if (list.length - this.#head > 2 * unanswered + 1024) {
      // A request that runs long holds the head: drop the answered ones behind it.
      this.#items = list.slice(this.#head).filter((q) => q.state !== 'done');
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > list.length) {
      this.#items = list.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Times out every request past its budget, then waits for the oldest one left. */
  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (;;) {
      // Re-read each turn: answering a request moves the head and may compact the list.
      const p = this.#items[this.#head];
      if (p === undefined) return;
      if (p.state === 'done') {
        this.#head++;
        continue;
      }
      const left = p.enqueuedAt + this.#budgetMs - now;
      if (left > 0) {
        this.#timer = setTimeout(() => this.#expire(), left);
        return;
      }
      this.#expired(p);
    }
  }
}
