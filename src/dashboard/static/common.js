// Helpers shared by the mlscale dashboards. Data from the server is only ever put into the page
// with textContent (never innerHTML), so a model or run name cannot inject markup.
/* global uPlot */

/** Creates an element with attributes and text content. */
export function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** Replaces a node's children. */
export function fill(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== undefined && c !== null));
}

/** A number for people: few digits, thousands separated. */
export function num(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  return Number(v).toFixed(digits);
}

/** Milliseconds as s or ms. */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(1)} ms`;
}

export const palette = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#57606a'];

/**
 * A uPlot chart in `container`: `series` are { label, unit, color, dash?, step? }; the x axis is
 * time (seconds) unless `xLabel` says otherwise. `plugins` are uPlot plugins.
 */
export function lineChart(container, { series, yLabel, xLabel, xTime = true, plugins = [], height = 220 }) {
  const width = Math.max(300, container.clientWidth || 460);
  const opts = {
    width,
    height,
    plugins,
    scales: { x: { time: xTime }, y: { range: (_u, min, max) => [0, Math.max(1, max * 1.1)] } },
    legend: { live: true },
    series: [
      xTime ? { label: 'time' } : { label: xLabel ?? 'x' },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? palette[i % palette.length],
        width: s.width ?? 2,
        dash: s.dash,
        spanGaps: false,
        paths: s.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: (_u, v) => (v === null || v === undefined ? '–' : `${num(v, s.digits ?? 1)} ${s.unit ?? ''}`.trim()),
      })),
    ],
    axes: [
      xTime ? { label: 'time (local)' } : { label: xLabel ?? '' },
      { label: yLabel, size: 60 },
    ],
  };
  const data = [[], ...series.map(() => [])];
  const chart = new uPlot(opts, data, container);
  const resize = () => chart.setSize({ width: Math.max(300, container.clientWidth || width), height });
  window.addEventListener('resize', resize);
  return chart;
}

/**
 * A uPlot plugin that draws a vertical line and a label at each of `marks()` ({ t: seconds, label }).
 */
export function markersPlugin(marks) {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const [min, max] = [u.scales.x.min, u.scales.x.max];
          ctx.save();
          ctx.strokeStyle = '#8250df';
          ctx.fillStyle = '#8250df';
          ctx.setLineDash([4, 3]);
          ctx.lineWidth = 1.5;
          ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
          // Labels step down in turn, so that decisions close in time do not print over each other.
          let row = 0;
          for (const m of marks()) {
            if (m.t < min || m.t > max) continue;
            const x = Math.round(u.valToPos(m.t, 'x', true));
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillText(m.label, x + 4, u.bbox.top + (12 + 14 * (row++ % 3)) * devicePixelRatio);
          }
          ctx.restore();
        },
      ],
    },
  };
}

/** A bar chart of { label, count } made of plain elements, with an axis title. */
export function barChart(container, bars, { xTitle, empty }) {
  if (bars.length === 0 || bars.every((b) => b.count === 0)) {
    fill(container, el('p', { class: 'empty' }, empty));
    return;
  }
  const max = Math.max(...bars.map((b) => b.count));
  const plot = el('div', { class: 'bars' });
  const labels = el('div', { class: 'bar-labels' });
  for (const b of bars) {
    const bar = el('div', { class: 'bar', title: `${b.label}: ${b.count}` });
    bar.append(el('span', { class: 'count' }, b.count.toLocaleString('en-US')));
    const f = el('div', { class: 'fill' });
    f.style.height = `${Math.round((b.count / max) * 140)}px`;
    bar.append(f);
    plot.append(bar);
    labels.append(el('span', {}, b.label));
  }
  fill(container, plot, labels, el('div', { class: 'axis-title' }, xTitle));
}

/** GET a JSON document; throws with the server's error message. */
export async function getJson(url) {
  const res = await fetch(url, { cache: 'no-store' });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}
