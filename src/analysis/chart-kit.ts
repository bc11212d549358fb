/**
 * What every chart of the report shares: rendering a Vega-Lite specification to SVG in Node (no
 * browser, no canvas), the legend, sampled curves and the common encodings.
 *
 * @module
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';

/** A rendered chart. */
export interface Chart {
  /** Unique within a report, usable as a file name. */
  readonly id: string;
  readonly title: string;
  /** What the chart shows and what to take from it, with the numbers. */
  readonly reading: string;
  readonly svg: string;
}

export type Row = Record<string, number | string | null>;
export type Spec = Record<string, unknown>;

export const kWidth = 520;
export const kHeight = 280;

/** Renders a Vega-Lite specification to an SVG string. */
export async function renderSvg(spec: Spec): Promise<string> {
  const compiled = vl.compile(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: kWidth,
      height: kHeight,
      ...spec,
    } as vl.TopLevelSpec,
    { logger: vega.logger(vega.None) },
  ).spec;
  // Warnings (e.g. two layers proposing different legend settings) are resolved by Vega-Lite itself;
  // printed, they would interleave with a command's own output.
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.None });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export const legend = {
  orient: 'bottom',
  direction: 'horizontal',
  title: null,
  columns: 3,
  columnPadding: 24,
  labelLimit: 600,
  labelFontSize: 11,
  symbolSize: 90,
};

/** A smooth curve: f sampled at many x between lo and hi (log-spaced when log). */
export function curve(
  lo: number,
  hi: number,
  f: (x: number) => number,
  series: string,
  log = false,
  steps = 60,
): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i <= steps; i++) {
    const x = log ? lo * (hi / lo) ** (i / steps) : lo + ((hi - lo) * i) / steps;
    rows.push({ x, y: f(x), series });
  }
  return rows;
}

export function enc(
  x: string,
  y: string,
  xTitle: string,
  yTitle: string,
  logX = false,
  logY = false,
  integerX = false,
): Spec {
  return {
    x: {
      field: x,
      type: 'quantitative',
      title: xTitle,
      scale: logX ? { type: 'log' } : { zero: true },
      axis: {
        labelOverlap: true,
        format: logX ? '~s' : ',~r',
        ...(integerX ? { tickMinStep: 1 } : {}),
      },
    },
    y: {
      field: y,
      type: 'quantitative',
      title: yTitle,
      scale: logY ? { type: 'log' } : { zero: true },
      axis: { format: logY ? '~r' : ',~r' },
    },
    color: { field: 'series', type: 'nominal', legend },
  };
}

export function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
