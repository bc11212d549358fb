// The pipeline runs dashboard: the list of runs and reports, and a run's page (#run=<id>).
import { duration, el, fill, getJson, lineChart, num } from './common.js';

let chart;
let timer;

function table(headers, rows) {
  const t = el('table');
  const head = el('tr');
  for (const h of headers) head.append(el('th', { class: h.num ? 'num' : undefined }, h.label ?? h));
  t.append(head);
  for (const r of rows) t.append(r);
  return t;
}

function progressCell(run) {
  const td = el('td');
  if (run.status === 'done') {
    td.append(el('span', { class: 'state done' }, 'done'));
    return td;
  }
  td.append(el('span', { class: 'state running' }, 'running'), document.createTextNode(progressText(run.progress)));
  return td;
}

// "fit: 40 batches — run 40 batches so far" in the first phase (the total is not known until the
// fit pass has counted the batches), then "train epoch 2: 60/150 batches — run 100/210 (48%)".
function progressText(p) {
  if (!p) return '';
  if (!p.phase) return ` — epoch ${p.epoch}, ${p.rounds} rounds, ${p.done} batches trained`;
  const phase = p.phase === 'train' && p.epoch ? `train epoch ${p.epoch}` : p.phase;
  const inPhase = p.total === null ? `${p.done} batches` : `${p.done}/${p.total} batches`;
  const run = p.runTotal === null ? `${p.runDone} batches so far` : `${p.runDone}/${p.runTotal} (${Math.floor((100 * p.runDone) / p.runTotal)}%)`;
  return ` — ${phase}: ${inPhase} — run ${run}`;
}

async function showList() {
  document.getElementById('list-view').hidden = false;
  document.getElementById('run-view').hidden = true;
  const message = document.getElementById('runs-message');
  try {
    const answer = await getJson('/api/runs');
    document.getElementById('meta').textContent = `runs folder ${answer.runsFolder}${answer.redis ? ' · bullmq runs from Redis' : ''}`;
    message.className = answer.redisError ? 'message error' : 'message';
    message.textContent = answer.redisError ?? '';
    const node = document.getElementById('runs');
    if (answer.runs.length === 0) {
      fill(node, el('p', { class: 'empty' }, `No runs yet: train one with mlscale train --out ${answer.runsFolder}/<name>.`));
    } else {
      const rows = answer.runs.map((r) => {
        const row = el('tr', { 'data-run': r.id });
        const name = el('td');
        name.append(el('a', { href: `#run=${encodeURIComponent(r.id)}` }, r.id));
        row.append(
          name,
          progressCell(r),
          el('td', {}, r.executor + (r.workers ? ` (${r.workers})` : '')),
          el('td', { class: 'num' }, r.workersConnected === undefined ? '–' : r.workersConnected < 0 ? '?' : String(r.workersConnected)),
          el('td', { class: 'num' }, r.retried === undefined ? '–' : `${r.retried} / ${r.failed}`),
          el('td', { class: 'num' }, r.rows === null ? '–' : r.rows.toLocaleString('en-US')),
          el('td', { class: 'num' }, r.batches ?? '–'),
          el('td', { class: 'num' }, duration(r.totalMs)),
          el('td', {}, r.metric ? `${r.metric.name} ${num(r.metric.value, 4)}` : '–'),
          el('td', {}, r.createdAt ? new Date(r.createdAt).toLocaleString() : '–'),
        );
        return row;
      });
      fill(
        node,
        table(
          ['run', 'status', 'executor (workers)', { label: 'workers connected', num: true }, { label: 'retries / failures', num: true }, { label: 'rows', num: true }, { label: 'batches', num: true }, { label: 'time', num: true }, 'final metric', 'finished'],
          rows,
        ),
      );
    }
  } catch (err) {
    message.className = 'message error';
    message.textContent = `cannot list the runs: ${err.message}`;
  }
  const reports = await getJson('/api/reports').catch(() => []);
  const rnode = document.getElementById('reports');
  if (reports.length === 0) fill(rnode, el('p', { class: 'empty' }, 'No reports yet (mlscale sweep writes them).'));
  else {
    const list = el('ul');
    for (const r of reports) {
      const item = el('li');
      item.append(el('a', { href: r.href, target: '_blank', rel: 'noopener' }, r.name), document.createTextNode(` — ${new Date(r.modifiedAt).toLocaleString()}`));
      list.append(item);
    }
    fill(rnode, list);
  }
}

async function showRun(id) {
  document.getElementById('list-view').hidden = true;
  document.getElementById('run-view').hidden = false;
  const run = await getJson(`/api/runs/${encodeURIComponent(id)}`);
  document.getElementById('run-title').textContent = `Run ${run.id}`;
  document.getElementById('meta').textContent = `${run.executor} · ${run.status}`;
  const kv = document.getElementById('run-summary');
  const pairs = [
    ['status', run.status],
    ['executor', `${run.executor}${run.workers ? `, ${run.workers} workers` : ''}`],
    ['data', run.data ? `${run.data.source ?? ''} — ${(run.data.rows ?? 0).toLocaleString('en-US')} rows in ${run.data.batches} batches (${run.data.heldOutRows ?? 0} held out)` : '–'],
    ['epochs', run.epochs ?? '–'],
    ['total time', duration(run.totalMs)],
    ['epoch loss', run.epochLoss.length ? run.epochLoss.map((l) => num(l, 4)).join(' → ') : '–'],
    ['finished', run.createdAt ? new Date(run.createdAt).toLocaleString() : '–'],
  ];
  if (run.progress) pairs.push(['progress', progressText(run.progress).replace(/^ — /, '')]);
  if (run.workersConnected !== undefined) pairs.push(['workers connected', run.workersConnected < 0 ? '?' : run.workersConnected], ['retries / failures', `${run.retried} / ${run.failed}`]);
  fill(kv);
  for (const [k, v] of pairs) kv.append(el('dt', {}, k), el('dd', {}, v));

  const container = document.getElementById('chart-batches');
  fill(container);
  chart?.destroy();
  const phases = ['fit', 'train', 'evaluate'];
  chart = lineChart(container, {
    xTime: false,
    xLabel: 'time since the run started (s)',
    yLabel: 'ms per batch',
    series: phases.map((p, i) => ({ label: p, unit: 'ms/batch', digits: 2, color: ['#9a6700', '#0969da', '#1a7f37'][i] })),
  });
  const xs = run.windows.map((w) => (w[1] + w[2]) / 1000);
  const ys = phases.map((p) => run.windows.map((w) => (w[0] === p ? w[2] / Math.max(1, w[3]) : null)));
  chart.setData([xs, ...ys]);
  container.dataset.points = String(xs.length);
  container.dataset.max = String(Math.max(0, ...ys.flat().filter((v) => typeof v === 'number')));
  if (xs.length === 0) container.append(el('p', { class: 'empty' }, 'This run recorded no per-batch times (runs from before mlscale recorded them, or a run in progress).'));

  const times = document.getElementById('run-times');
  const timeRows = [
    ...Object.entries(run.phases ?? {}).map(([k, v]) => [k, v, 'phase, wall time']),
    // `read` (a task getting its batch: the file or the cache) is part of `preprocess`, not beside it.
    ...Object.entries(run.stages ?? {}).map(([k, v]) => [k, v, k === 'read' ? 'part of preprocess: reading batches, CPU time over tasks' : 'stage, CPU time over tasks']),
  ].map(([k, v, what]) => {
    const tr = el('tr');
    tr.append(el('td', {}, k), el('td', {}, what), el('td', { class: 'num' }, duration(v)));
    return tr;
  });
  fill(times, timeRows.length ? table(['name', 'kind', { label: 'time', num: true }], timeRows) : el('p', { class: 'empty' }, 'No timings yet.'));

  const metrics = document.getElementById('run-metrics');
  const metricRows = Object.entries({ ...run.metrics, ...(run.customMetrics ?? {}) })
    .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
    .map(([k, v]) => {
      const tr = el('tr', { 'data-metric': k });
      tr.append(el('td', {}, k), el('td', { class: 'num' }, typeof v === 'number' ? num(v, 4) : v));
      return tr;
    });
  fill(metrics, metricRows.length ? table(['metric', { label: 'value', num: true }], metricRows) : el('p', { class: 'empty' }, 'No metrics yet.'));
}

function route() {
  clearInterval(timer);
  const m = /^#run=(.+)$/.exec(location.hash);
  if (m) {
    showRun(decodeURIComponent(m[1])).catch((err) => {
      document.getElementById('run-title').textContent = `Cannot show the run: ${err.message}`;
    });
  } else {
    void showList();
    timer = setInterval(() => void showList(), 2000);
  }
}

window.addEventListener('hashchange', route);
route();
