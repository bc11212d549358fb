/**
 * The progress bar of `mlscale train`: batches done/total, rows/s, ETA, round and loss, on stderr,
 * only when stderr is a terminal (silent in pipes, CI and tests). Uses cli-progress.
 *
 * @module
 */
import cliProgress from 'cli-progress';
import type { Progress } from '../pipeline/run-training.js';

/** Something that takes progress reports and can be stopped. */
export interface ProgressView {
  update(p: Progress): void;
  /** Text shown beside the bar's own detail (the distributed executor's workers and retries). */
  note(text: string): void;
  stop(): void;
}

/** A progress bar on `stream` if it is a TTY, else a view that prints nothing. */
export function createProgressView(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (!stream.isTTY) return { update() {}, note() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        '{phase} |{bar}| {value}/{total} batches | {rate} rows/s | ETA {eta_formatted} | {detail}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let phase: string | undefined;
  let phaseStart = 0;
  let detail = '';
  let extra = '';
  const shown = () => [detail, extra].filter((s) => s !== '').join(' | ');
  return {
    update(p) {
      if (p.phase !== phase) {
        if (phase) bar.stop();
        phase = p.phase;
        phaseStart = Date.now();
        bar.start(p.total ?? Math.max(p.done, 1), 0, {
          phase: p.phase.padEnd(8),
          rate: 0,
          detail: '',
        });
      }
      const seconds = Math.max((Date.now() - phaseStart) / 1000, 1e-3);
      detail =
        p.phase === 'train'
          ? `epoch ${p.epoch} round ${p.round} loss ${p.loss?.toFixed(4) ?? '-'}`
          : '';
      if (p.total === undefined) bar.setTotal(p.done + 1);
      else bar.setTotal(p.total);
      bar.update(p.done, {
        rate: Math.round(p.rows / seconds).toLocaleString('en-US'),
        detail: shown(),
      });
    },
    note(text) {
      extra = text;
      if (phase) bar.update({ detail: shown() });
    },
    stop() {
      if (phase) bar.stop();
    },
  };
}
