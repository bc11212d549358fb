/**
 * Numbers in the advisor's sentences and the report: rates with thousands separators, ratios with
 * two decimals, durations in the unit that reads best.
 *
 * @module
 */

/** 11000 → "11,000"; 0.1234 → "0.123"; keeps three significant digits below 100. */
export function num(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? '∞' : String(v);
  const abs = Math.abs(v);
  if (abs >= 100) return Math.round(v).toLocaleString('en-US');
  if (abs >= 10) return v.toFixed(1).replace(/\.0$/, '');
  if (abs >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
  if (abs === 0) return '0';
  return Number(v.toPrecision(3)).toString();
}

/** 1.7843 → "1.78x". */
export function ratio(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(2)}x` : '∞';
}

/** 0.953 → "95%"; 0.0041 → "0.4%". */
export function pct(v: number): string {
  const p = v * 100;
  return `${Math.abs(p) < 10 && p !== 0 ? p.toFixed(1) : Math.round(p)}%`;
}

/** Seconds as "850 ms", "12.4 s", "3.2 min", "1.5 h". */
export function duration(s: number): string {
  if (!Number.isFinite(s)) return '∞';
  if (s < 1) return `${num(s * 1000)} ms`;
  if (s < 120) return `${num(s)} s`;
  if (s < 7200) return `${num(s / 60)} min`;
  return `${num(s / 3600)} h`;
}

/** Money: "$0.38", "$12.50"; three significant digits below ten cents ("$0.00278"). */
export function money(v: number): string {
  if (!Number.isFinite(v)) return '∞';
  return v >= 0.1 ? `$${v.toFixed(2)}` : `$${Number(v.toPrecision(3))}`;
}
