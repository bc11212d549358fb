/**
 * When a dead replica is replaced, and when the primary gives up: the first death is replaced at
 * once, repeated ones after a backoff that doubles, and too many deaths in a minute are a crash
 * loop (restarting would only burn CPU on a fault that needs a person). Time is an input, so the
 * policy is tested without waiting.
 *
 * @module
 */

/** Replica deaths within `kCrashLoopWindowMs` that make the primary give up. */
export const kCrashLoopDeaths = 5;
export const kCrashLoopWindowMs = 60_000;
/** Deaths older than this no longer lengthen the restart backoff. */
export const kStableMs = 10_000;
/** Restart delays after repeated deaths: 0, then doubling from this, up to the max. */
export const kBackoffBaseMs = 250;
export const kBackoffMaxMs = 8_000;

/** What to do about a death. */
export interface DeathVerdict {
  /** Deaths within the crash-loop window, this one included. */
  readonly deaths: number;
  /** Too many deaths: give up. */
  readonly crashLoop: boolean;
  /** How long to wait before starting a replacement, in ms. */
  readonly restartInMs: number;
}

/** The host's replica deaths, counted host-wide (a fault usually hits every replica alike). */
export class RestartPolicy {
  readonly #deaths: number[] = [];

  /** Records a death at `nowMs` and says what to do about it. */
  died(nowMs: number): DeathVerdict {
    const deaths = this.#deaths;
    deaths.push(nowMs);
    while (deaths.length > 0 && deaths[0]! < nowMs - kCrashLoopWindowMs) deaths.shift();
    // Backoff grows with the deaths of the last kStableMs: the first is replaced at once.
    const recent = deaths.filter((t) => t >= nowMs - kStableMs).length;
    const restartInMs =
      recent <= 1 ? 0 : Math.min(kBackoffMaxMs, kBackoffBaseMs * 2 ** (recent - 2));
    return { deaths: deaths.length, crashLoop: deaths.length >= kCrashLoopDeaths, restartInMs };
  }
}
