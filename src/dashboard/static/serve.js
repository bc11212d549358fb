// The serve dashboard: a snapshot from /dashboard/api/state, then one Server-Sent Event a second
// from /dashboard/api/events, kept in a rolling window and drawn with uPlot.
import { barChart, el, fill, getJson, lineChart, markersPlugin, num } from './common.js';

const kWindowSeconds = 300;
const kTokenKey = 'mlscale.adminToken';

const state = { samples: [], decisions: [], admin: { enabled: false }, models: [], mode: 'single' };

const marks = () => state.decisions.map((d) => ({ t: d.t / 1000, label: `${d.action}: ${d.to.replicas} rep × ${d.to.instancesPerReplica} inst` }));

const charts = {
  rps: lineChart(document.getElementById('chart-rps'), { yLabel: 'requests / s', series: [{ label: 'requests/s', unit: 'req/s' }] }),
  latency: lineChart(document.getElementById('chart-latency'), {
    yLabel: 'latency (ms)',
    series: [
      { label: 'p50', unit: 'ms', digits: 2 },
      { label: 'p99', unit: 'ms', digits: 2, color: '#cf222e' },
    ],
  }),
  errors: lineChart(document.getElementById('chart-errors'), {
    yLabel: 'requests / s',
    series: [
      { label: 'errors', unit: 'req/s', color: '#cf222e' },
      { label: 'shed (503)', unit: 'req/s', color: '#9a6700' },
    ],
  }),
  queue: lineChart(document.getElementById('chart-queue'), {
    yLabel: 'requests',
    series: [
      { label: 'queued', unit: 'req', digits: 0 },
      { label: 'in flight', unit: 'req', digits: 0, color: '#8250df' },
    ],
  }),
  fleet: lineChart(document.getElementById('chart-fleet'), {
    yLabel: 'count',
    plugins: [markersPlugin(marks)],
    series: [
      { label: 'replicas', unit: '', digits: 0, step: true, color: '#1a7f37', width: 5 },
      { label: 'instances', unit: '', digits: 0, step: true, color: '#0969da' },
    ],
  }),
};

/** Each chart's series from the samples, and a data attribute with its largest value (tests read it). */
function draw() {
  const s = state.samples;
  const t = s.map((x) => x.t / 1000);
  const set = (name, chart, columns) => {
    chart.setData([t, ...columns]);
    const max = Math.max(0, ...columns.flat().filter((v) => typeof v === 'number'));
    const node = document.querySelector(`[data-chart="${name}"]`);
    node.dataset.points = String(t.length);
    node.dataset.max = String(max);
  };
  set('rps', charts.rps, [s.map((x) => x.rps)]);
  set('latency', charts.latency, [s.map((x) => x.p50Ms), s.map((x) => x.p99Ms)]);
  set('errors', charts.errors, [s.map((x) => x.errors), s.map((x) => x.shed)]);
  set('queue', charts.queue, [s.map((x) => x.queueDepth), s.map((x) => x.inFlight)]);
  // One process has no replicas to draw: its line stays empty rather than hide the instances'.
  set('fleet', charts.fleet, [s.map((x) => x.replicas), s.map((x) => x.instances)]);
  const last = s[s.length - 1];
  const meta = document.getElementById('meta');
  meta.textContent = last
    ? `${state.mode === 'replicas' ? 'replicas (whole host)' : 'one process'} · ${num(last.rps)} req/s · p99 ${num(last.p99Ms, 2)} ms · updated ${new Date(last.t).toLocaleTimeString()}`
    : `${state.mode === 'replicas' ? 'replicas (whole host)' : 'one process'} · waiting for the first sample`;
}

function drawBatchSizes(buckets) {
  let below = 0;
  const bars = buckets.map((b) => {
    const label = b.le === '+Inf' ? `>${below}` : below + 1 >= Number(b.le) ? `${b.le}` : `${below + 1}–${b.le}`;
    if (b.le !== '+Inf') below = Number(b.le);
    return { label, count: b.count };
  });
  barChart(document.getElementById('batch-sizes'), bars, { xTitle: 'rows per batch', empty: 'No batches in the last minute.' });
  const node = document.getElementById('batch-sizes');
  node.dataset.max = String(Math.max(0, ...buckets.map((b) => b.count)));
}

function drawDecisions() {
  const node = document.getElementById('decisions');
  if (state.decisions.length === 0) {
    fill(node, el('p', { class: 'empty' }, state.mode === 'replicas' ? 'No scaling decision yet (with --replicas auto, changes are listed here).' : 'The server runs as one process; start it with --replicas auto to see the autoscaler at work.'));
    return;
  }
  const table = el('table');
  const head = el('tr');
  for (const h of ['time', 'action', 'replicas', 'instances per replica', 'signal', 'reason']) head.append(el('th', {}, h));
  table.append(head);
  for (const d of [...state.decisions].reverse()) {
    const row = el('tr');
    row.append(
      el('td', {}, new Date(d.t).toLocaleTimeString()),
      el('td', {}, d.action),
      el('td', { class: 'num' }, `${d.from.replicas} → ${d.to.replicas}`),
      el('td', { class: 'num' }, `${d.from.instancesPerReplica} → ${d.to.instancesPerReplica}`),
      el('td', {}, d.signal),
      el('td', {}, d.reason),
    );
    table.append(row);
  }
  // The host's state: the latest of host-saturated / host-has-room says whether to add machines.
  const host = [...state.decisions].reverse().find((d) => d.action === 'host-saturated' || d.action === 'host-has-room');
  if (host && host.action === 'host-saturated') {
    const banner = el('p', { class: 'saturated', id: 'host-saturated' }, `This host is saturated — add machines. ${host.reason}`);
    fill(node, banner);
    node.append(table);
  } else fill(node, table);
}

function token() {
  return sessionStorage.getItem(kTokenKey) ?? '';
}

function drawAdmin() {
  const node = document.getElementById('admin');
  const a = state.admin;
  if (!a.enabled) {
    fill(node, el('p', { class: 'hint' }, `Load and unload are not offered: ${a.why ?? 'the repository API is not available'}.`));
    return;
  }
  if (!a.tokenRequired) {
    fill(node, el('p', { class: 'hint' }, 'Load and unload call the repository API (no token: the server listens on loopback only).'));
    return;
  }
  const input = el('input', { type: 'password', id: 'admin-token', autocomplete: 'off', placeholder: 'admin token', 'aria-label': 'admin token' });
  input.value = token();
  input.addEventListener('change', () => sessionStorage.setItem(kTokenKey, input.value));
  input.addEventListener('input', () => sessionStorage.setItem(kTokenKey, input.value));
  const label = el('label', { for: 'admin-token', class: 'hint' }, 'Admin token (kept in this tab only) for load and unload: ');
  fill(node, el('p', {}), label, input);
}

function drawModels() {
  const node = document.getElementById('models');
  if (state.models.length === 0) {
    fill(node, el('p', { class: 'empty' }, 'No models in the repository.'));
    return;
  }
  const table = el('table', { id: 'models-table' });
  const head = el('tr');
  for (const h of ['model', 'version', 'state', 'reason', ...(state.admin.enabled ? ['actions'] : [])]) head.append(el('th', {}, h));
  table.append(head);
  for (const m of state.models) {
    const row = el('tr', { 'data-model': m.name });
    row.append(el('td', {}, m.name), el('td', {}, m.version ?? '–'), el('td', { class: `state ${m.state}`, 'data-state': m.state }, m.state), el('td', {}, m.reason || ''));
    if (state.admin.enabled) {
      const actions = el('td');
      actions.append(
        el('button', { type: 'button', 'data-action': 'load', onclick: () => void repositoryCall(m.name, 'load') }, m.state === 'READY' ? 'Reload' : 'Load'),
        el('button', { type: 'button', 'data-action': 'unload', disabled: m.state !== 'READY', onclick: () => void repositoryCall(m.name, 'unload') }, 'Unload'),
      );
      row.append(actions);
    }
    table.append(row);
  }
  // The host's state: the latest of host-saturated / host-has-room says whether to add machines.
  const host = [...state.decisions].reverse().find((d) => d.action === 'host-saturated' || d.action === 'host-has-room');
  if (host && host.action === 'host-saturated') {
    const banner = el('p', { class: 'saturated', id: 'host-saturated' }, `This host is saturated — add machines. ${host.reason}`);
    fill(node, banner);
    node.append(table);
  } else fill(node, table);
}

async function repositoryCall(name, action) {
  const message = document.getElementById('admin-message');
  message.className = 'message';
  message.textContent = `${action === 'load' ? 'Loading' : 'Unloading'} ${name}…`;
  const headers = { 'content-type': 'application/json' };
  if (state.admin.tokenRequired) headers.authorization = `Bearer ${token()}`;
  try {
    const res = await fetch(`/v2/repository/models/${encodeURIComponent(name)}/${action}`, { method: 'POST', headers, body: '{}' });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
    message.textContent = `${name}: ${action === 'load' ? 'loaded' : 'unloaded'}.`;
  } catch (err) {
    message.className = 'message error';
    message.textContent = `${name}: ${action} failed: ${err.message}`;
  }
  await refreshState();
}

function drawReports(reports) {
  const node = document.getElementById('reports');
  if (reports.length === 0) {
    fill(node, el('p', { class: 'empty' }, 'No reports linked (start the server with --reports DIR to list the reports of mlscale sweep).'));
    return;
  }
  const list = el('ul');
  for (const r of reports) {
    const item = el('li');
    item.append(el('a', { href: r.href, target: '_blank', rel: 'noopener' }, r.name), document.createTextNode(` — ${new Date(r.modifiedAt).toLocaleString()}`));
    list.append(item);
  }
  fill(node, list);
}

function merge(update) {
  const known = new Set(state.samples.map((s) => s.t));
  for (const s of update.samples) if (!known.has(s.t)) state.samples.push(s);
  state.samples.sort((a, b) => a.t - b.t);
  const cutoff = Date.now() - kWindowSeconds * 1000;
  while (state.samples.length > 0 && state.samples[0].t < cutoff) state.samples.shift();
  state.decisions = update.decisions;
  state.mode = update.mode;
  if (update.models) state.models = update.models;
  draw();
  drawBatchSizes(update.batchSizes);
  drawDecisions();
  drawModels();
}

async function refreshState() {
  const snapshot = await getJson('/dashboard/api/state');
  state.admin = snapshot.admin;
  merge(snapshot);
  drawReports(snapshot.reports);
  return snapshot;
}

function listen() {
  const status = document.getElementById('status');
  const last = state.samples[state.samples.length - 1];
  const events = new EventSource(`/dashboard/api/events${last ? `?since=${last.t}` : ''}`);
  events.addEventListener('open', () => {
    status.textContent = 'live';
    status.className = 'status live';
  });
  events.addEventListener('sample', (e) => merge(JSON.parse(e.data)));
  events.addEventListener('error', () => {
    status.textContent = 'reconnecting…';
    status.className = 'status down';
  });
}

refreshState()
  .then(() => drawAdmin())
  .catch((err) => {
    const message = document.getElementById('admin-message');
    message.className = 'message error';
    message.textContent = `cannot read the dashboard state: ${err.message}`;
  })
  .finally(listen);
