/**
 * Requests and answers over a process's IPC channel (node:cluster's `worker.send` on the primary's
 * side, `process.send` on a replica's), written once for every conversation between the two: the
 * primary asking a replica for its metrics or load, a replica asking the primary for the merged
 * metrics or an observer's data.
 *
 * A request carries an id and a topic; the peer's handler for that topic answers it, or the
 * answer says that nothing handles it. A request rejects when no answer comes in time, when the
 * message cannot be sent, and at once when the peer goes away (`close()`), so no caller waits on a
 * dead process for its whole timeout.
 *
 * @module
 */

/** A request on the channel. */
export interface IpcAsk {
  readonly mlscale: 'ask';
  readonly id: number;
  readonly topic: string;
  readonly body?: unknown;
}

/** The answer to the request with the same id: a body, or why there is none. */
export interface IpcAnswer {
  readonly mlscale: 'answer';
  readonly id: number;
  readonly body?: unknown;
  readonly error?: string;
}

/** Answers the requests of one topic; a throw or a rejection is sent back as the error. */
export type IpcHandler = (body: unknown) => unknown;

/** Options of `IpcRequests`. */
export interface IpcRequestsOptions {
  /** The peer, as messages name it: `the primary`, `replica 2`. */
  readonly peer: string;
  /** How long a request waits for its answer by default, in ms. */
  readonly timeoutMs: number;
}

interface Waiter {
  readonly topic: string;
  readonly resolve: (body: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One side of a request/answer conversation over an IPC channel. */
export class IpcRequests {
  readonly #send: (message: IpcAsk | IpcAnswer) => void;
  readonly #options: IpcRequestsOptions;
  readonly #handlers = new Map<string, IpcHandler>();
  readonly #waiting = new Map<number, Waiter>();
  #nextId = 1;
  #gone: string | undefined;

  /**
   * @param send - Sends one message to the peer; may throw when the channel is closed.
   * @param options - The peer's name and the default timeout.
   */
  constructor(send: (message: IpcAsk | IpcAnswer) => void, options: IpcRequestsOptions) {
    this.#send = send;
    this.#options = options;
  }

  /** Requests waiting for their answer. */
  get pending(): number {
    return this.#waiting.size;
  }

  /**
   * Asks the peer on `topic` and resolves with its answer's body.
   * @throws {Error} (rejects) when the peer does not answer within `timeoutMs`, answers with an
   *   error, cannot be sent to, or has gone away.
   */
  request<T = unknown>(
    topic: string,
    body?: unknown,
    timeoutMs = this.#options.timeoutMs,
  ): Promise<T> {
    if (this.#gone !== undefined)
      return Promise.reject(
        new Error(
          `${this.#options.peer} is gone (${this.#gone}); the ${topic} request was not sent`,
        ),
      );
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(
          new Error(
            `${this.#options.peer} did not answer the ${topic} request within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#waiting.set(id, { topic, resolve: resolve as (body: unknown) => void, reject, timer });
      try {
        this.#send({ mlscale: 'ask', id, topic, ...(body === undefined ? {} : { body }) });
      } catch (err) {
        this.#settle(id)?.reject(
          new Error(
            `cannot send the ${topic} request to ${this.#options.peer}: ${(err as Error).message}`,
            { cause: err },
          ),
        );
      }
    });
  }

  /** Answers the peer's requests on `topic` with `handler`; one handler per topic. */
  handle(topic: string, handler: IpcHandler): this {
    if (this.#handlers.has(topic))
      throw new RangeError(`topic ${JSON.stringify(topic)} already has a handler`);
    this.#handlers.set(topic, handler);
    return this;
  }

  /**
   * Takes one message from the peer: answers a request, or hands an answer to its request.
   * @returns false when the message is not a request or an answer (the caller's to read).
   */
  receive(message: unknown): boolean {
    if (typeof message !== 'object' || message === null || !('mlscale' in message)) return false;
    const m = message as IpcAsk | IpcAnswer;
    if (m.mlscale === 'answer') {
      const waiter = this.#settle(m.id);
      if (m.error !== undefined)
        waiter?.reject(
          new Error(
            `${this.#options.peer} could not answer the ${waiter.topic} request: ${m.error}`,
          ),
        );
      else waiter?.resolve(m.body);
      return true;
    }
    if (m.mlscale === 'ask') {
      void this.#answer(m);
      return true;
    }
    return false;
  }

  /** The peer has gone (it exited, or the channel closed): every waiting request rejects now, and later ones at once. */
  close(reason = 'the channel closed'): void {
    this.#gone ??= reason;
    for (const id of [...this.#waiting.keys()]) {
      const waiter = this.#settle(id)!;
      waiter.reject(
        new Error(
          `${this.#options.peer} went away before answering the ${waiter.topic} request (${reason})`,
        ),
      );
    }
  }

  async #answer(ask: IpcAsk): Promise<void> {
    const handler = this.#handlers.get(ask.topic);
    let answer: IpcAnswer;
    if (!handler) {
      answer = {
        mlscale: 'answer',
        id: ask.id,
        error: `nothing answers ${JSON.stringify(ask.topic)} here`,
      };
    } else {
      try {
        answer = { mlscale: 'answer', id: ask.id, body: await handler(ask.body) };
      } catch (err) {
        answer = {
          mlscale: 'answer',
          id: ask.id,
          error: err instanceof Error ? err.message : String(err),
        };
      }
    }
    try {
      this.#send(answer);
    } catch {
      // The peer asked and went away: no one is left to answer.
    }
  }

  #settle(id: number): Waiter | undefined {
    const waiter = this.#waiting.get(id);
    if (!waiter) return undefined;
    this.#waiting.delete(id);
    clearTimeout(waiter.timer);
    return waiter;
  }
}
