/**
 * Whether a load run measured the server or the load generator itself: an open loop that sent
 * too few requests, or sent them late, is generator-bound; a closed loop whose event loop was
 * busy nearly all the time may have hit the generator's limit.
 *
 * @module
 */
import type * as hdr from 'hdr-histogram-js';

/** Open loop: sends later than this behind schedule at p99 make the run generator-bound (ms). */
const kMaxSendLagP99Ms = 10;
/** Open loop: a sent rate below this share of the offered rate makes the run generator-bound. */
const kMinSentShare = 0.95;
/** Closed loop: event-loop utilisation above this says the generator itself may be the bottleneck. */
const kBusyEventLoop = 0.95;

/** The run's verdict on its generator, as `LoadResult.generatorBound` and `generatorNote` carry it. */
export function generatorVerdict(
  o: { readonly mode: 'open' | 'closed'; readonly rate: number },
  sentRate: number,
  achievedRate: number,
  sendLag: hdr.Histogram,
  eventLoopUtilisation: number,
): { generatorBound: boolean; generatorNote: string | null } {
  let generatorBound = false;
  let generatorNote: string | null = null;
  const fmt = (n: number) => String(Math.round(n));
  if (o.mode === 'open') {
    const lagP99 = sendLag.totalCount === 0 ? 0 : sendLag.getValueAtPercentile(99) / 1000;
    const tooFew = sentRate < kMinSentShare * o.rate;
    const late = lagP99 > kMaxSendLagP99Ms;
    generatorBound = tooFew || late;
    if (generatorBound) {
      generatorNote =
        `offered ${fmt(o.rate)}/s, achieved ${fmt(sentRate)}/s, generator-bound` +
        (late ? ` (sends fell behind the schedule by ${lagP99.toFixed(1)} ms at p99)` : '');
    }
  } else if (eventLoopUtilisation > kBusyEventLoop) {
    generatorNote =
      `the load generator's event loop was busy ${Math.round(eventLoopUtilisation * 100)}% of the time: ` +
      `${fmt(achievedRate)}/s may be its limit rather than the server's`;
  }
  return { generatorBound, generatorNote };
}
