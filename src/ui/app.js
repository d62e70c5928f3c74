/* dbpecker built-in UI: plain JS over the daemon's own API (same origin).
 * Charts are Chart.js (Debian's libjs-chart.js, served from /ui/chart.min.js).
 * The token lives in memory and sessionStorage only, never in a URL. */
'use strict';

const $ = (s, r) => (r || document).querySelector(s);
const esc = (v) => String(v === undefined || v === null ? '' : v)
  .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const fmt = (v, d) => (typeof v === 'number' && isFinite(v) ? v.toFixed(d === undefined ? 2 : d) : '–');
const timeStr = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
const COLORS = ['#2463c7', '#e67e22', '#16a085', '#8e44ad', '#c0392b', '#7f8c8d'];

let token = sessionStorage.getItem('dbp-token') || '';
const state = {
  nodes: [], types: [], active: [], spans: [], charts: {}, series: {}, fluct: {},
  windowS: 300, categories: {}, model: null, services: {},
};

/* One request to the daemon.  Mutating requests carry JSON (the daemon
 * refuses form-style POSTs) and the bearer token when one is set.  A refusal
 * becomes an Error whose message is the API's `detail`. */
async function api(method, path, body) {
  const opt = { method, headers: {}, cache: 'no-store', credentials: 'same-origin' };
  if (method !== 'GET') {
    opt.headers['Content-Type'] = 'application/json';
    if (token) opt.headers.Authorization = 'Bearer ' + token;
    opt.body = JSON.stringify(body || {});
  }
  const r = await fetch(path, opt);
  const text = await r.text();
  let data = text;
  try { data = JSON.parse(text); } catch (e) { /* Markdown report or plain text */ }
  if (!r.ok) {
    let msg = (data && (data.detail || data.error || data.message)) || r.statusText;
    if (r.status === 401) msg += ' — enter the daemon\'s token (server.token) at the top right';
    const err = new Error(r.status + ': ' + msg);
    err.status = r.status;
    throw err;
  }
  return data;
}

function show(el, text, ok) {
  el.textContent = text;
  el.className = 'result ' + (ok ? 'ok' : 'err');
}

function banner(text) {
  const b = $('#banner');
  b.hidden = !text;
  b.textContent = text || '';
}

/* ---- token ---------------------------------------------------------------- */
function tokenState() {
  $('#token-state').textContent = token ? 'token set' : 'no token';
}
$('#token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('#token').value.trim();
  $('#token').value = '';
  if (token) sessionStorage.setItem('dbp-token', token); else sessionStorage.removeItem('dbp-token');
  tokenState();
});

/* ---- tabs ----------------------------------------------------------------- */
function showView(name) {
  document.querySelectorAll('#tabs button').forEach((b) => b.classList.toggle('active', b.dataset.view === name));
  document.querySelectorAll('.view').forEach((v) => { v.hidden = v.id !== 'view-' + name; });
  document.body.dataset.view = name;
  if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
  if (name === 'diagnosis') refreshDiagnosis();
  if (name === 'campaigns') refreshExperiments();
  Object.values(state.charts).forEach((c) => c.resize());
}
document.querySelectorAll('#tabs button').forEach((b) => b.addEventListener('click', () => showView(b.dataset.view)));

/* ---- cluster: nodes, workloads, charts ----------------------------------- */
async function refreshNodes() {
  try {
    const d = await api('GET', '/api/metrics/nodes');
    state.nodes = d.nodes || [];
    $('#nodes tbody').innerHTML = state.nodes.map((n) => `<tr><td>${esc(n.name)}</td><td>${esc(n.host)}:${esc(n.port)}</td>
      <td class="state-${esc(n.state)}">${esc(n.state)}</td><td>${n.last_success ? esc(timeStr(Date.parse(n.last_success))) : '–'}</td>
      <td>${esc(n.consecutive_failures)}</td><td class="err">${esc(n.last_error || '')}</td></tr>`).join('');
    $('#nodes').dataset.rows = state.nodes.length;
    fillNodeSelects();
  } catch (e) {
    $('#nodes tbody').innerHTML = `<tr><td colspan="6" class="err">${esc(e.message)}</td></tr>`;
  }
}

function fillNodeSelects() {
  const names = state.nodes.map((n) => n.name);
  for (const sel of [$('#f-node'), $('#mr-node')]) {
    if (sel.options.length === names.length) continue;
    const cur = sel.value;
    sel.innerHTML = names.map((n) => `<option>${esc(n)}</option>`).join('');
    if (names.includes(cur)) sel.value = cur;
  }
}

async function refreshWorkloads() {
  try {
    const list = await api('GET', '/api/workload/active');
    const rows = (Array.isArray(list) ? list : []).map((w) => {
      const l = w.latest || {};
      return { w, tps: l.tps, qps: l.qps };
    });
    $('#workloads tbody').innerHTML = rows.length ? rows.map(({ w, tps, qps }) => `<tr><td>${esc(w.id)}</td><td>${esc(w.type)}</td>
      <td>${esc((w.nodes || []).join(', '))}</td><td>${esc(w.state)}</td><td>${fmt(tps, 1)}</td><td>${fmt(qps, 1)}</td></tr>`).join('')
      : '<tr><td colspan="6" class="hint">no run active</td></tr>';
    $('#wl-active tbody').innerHTML = rows.length ? rows.map(({ w, tps }) => `<tr><td>${esc(w.id)}</td><td>${esc(w.type)}</td>
      <td>${esc(w.threads)}</td><td>${esc(w.state)}</td><td>${fmt(tps, 1)}</td>
      <td><button data-stop-wl="${esc(w.id)}" type="button">Stop</button></td></tr>`).join('')
      : '<tr><td colspan="6" class="hint">no run active</td></tr>';
  } catch (e) {
    $('#workloads tbody').innerHTML = `<tr><td colspan="6" class="err">${esc(e.message)}</td></tr>`;
  }
}

/* The metric a category chart shows: the user's pick, else its first counter
 * (a rate), else its first metric. */
function chosenMetric(cat) {
  const c = state.categories[cat];
  if (c.pick) return c.pick;
  if (c.auto) return c.auto;
  // the busiest counter of the category now (a flat zero line shows little)
  const names = Object.keys(c.metrics).sort();
  const counters = names.filter((m) => c.metrics[m] === 'counter');
  const busy = (m) => Object.values(state.lastNodes || {}).reduce((a, n) => {
    const p = n[cat] && n[cat][m];
    return a + (p && typeof p.value === 'number' ? Math.abs(p.value) : 0);
  }, 0);
  c.auto = (counters.length ? counters : names).reduce((best, m) => (busy(m) > busy(best) ? m : best));
  return c.auto;
}

function seriesKey(node, cat, metric) { return node + '\u0000' + cat + '\u0000' + metric; }

function pushPoint(key, x, y) {
  const s = state.series[key] || (state.series[key] = []);
  if (s.length && s[s.length - 1].x >= x) return false;
  s.push({ x, y });
  const cut = Date.now() - 1800 * 1000;
  while (s.length && s[0].x < cut) s.shift();
  return true;
}

function ensureChart(cat) {
  if (state.charts[cat]) return state.charts[cat];
  const card = document.createElement('div');
  card.className = 'chart-card';
  card.dataset.category = cat;
  card.innerHTML = `<header><h3>${esc(cat)}</h3><select></select></header><div class="chart-box"><canvas></canvas></div>`;
  $('#charts').appendChild(card);
  const sel = $('select', card);
  sel.addEventListener('change', () => {
    state.categories[cat].pick = sel.value;
    loadHistory(cat).then(() => drawChart(cat));
  });
  const chart = new Chart($('canvas', card), {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
      interaction: { mode: 'nearest', intersect: false },
      scales: {
        x: { type: 'linear', ticks: { callback: (v) => timeStr(v), maxTicksLimit: 6 } },
        y: { beginAtZero: true, ticks: { maxTicksLimit: 5 } },
        faults: { min: 0, max: 1, display: false },
      },
      plugins: {
        legend: { labels: { boxWidth: 10, font: { size: 11 }, filter: (it) => !it.text.startsWith('fault:') || true } },
        tooltip: { callbacks: { title: (items) => (items.length ? timeStr(items[0].parsed.x) : '') } },
      },
      elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
    },
  });
  chart.$card = card;
  state.charts[cat] = chart;
  return chart;
}

/* Datasets: one line per node, fluctuation marks as red triangles, and
 * every fault span overlapping the window as a shaded band on a hidden 0..1
 * axis sharing the time axis. */
function drawChart(cat) {
  const chart = ensureChart(cat);
  const metric = chosenMetric(cat);
  const sel = $('select', chart.$card);
  const names = Object.keys(state.categories[cat].metrics).sort();
  if (sel.options.length !== names.length) sel.innerHTML = names.map((m) => `<option>${esc(m)}</option>`).join('');
  sel.value = metric;
  const now = Date.now();
  // start the axis at the oldest point when the daemon is younger than the window
  let oldest = now;
  for (const n of Object.keys(state.lastNodes || {})) {
    const s = state.series[seriesKey(n, cat, metric)];
    if (s && s.length) oldest = Math.min(oldest, s[0].x);
  }
  const min = Math.max(now - state.windowS * 1000, Math.min(oldest, now - 60 * 1000));
  const ds = [];
  let points = 0;
  const nodeNames = state.nodes.length ? state.nodes.map((n) => n.name) : Object.keys(state.lastNodes || {});
  nodeNames.forEach((node, i) => {
    const key = seriesKey(node, cat, metric);
    const data = (state.series[key] || []).filter((p) => p.x >= min);
    points += data.length;
    ds.push({ label: node, data, borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length], spanGaps: false });
    const fl = (state.fluct[key] || []).filter((p) => p.x >= min);
    if (fl.length) {
      ds.push({ label: node + ' fluctuation', data: fl, type: 'scatter', showLine: false, pointStyle: 'triangle',
        pointRadius: 5, borderColor: '#c0392b', backgroundColor: '#c0392b' });
    }
  });
  let shaded = 0;
  let live = 0;
  for (const sp of state.spans) {
    const end = sp.end || now;
    if (end < min) continue;
    const s = Math.max(sp.start, min);
    shaded++;
    if (!sp.end) live++;
    ds.push({ label: 'fault: ' + sp.label, yAxisID: 'faults', fill: 'origin', stepped: true, pointRadius: 0, borderWidth: 0,
      backgroundColor: sp.end ? 'rgba(192,57,43,0.10)' : 'rgba(192,57,43,0.22)',
      data: [{ x: s, y: 1 }, { x: end, y: 1 }] });
  }
  chart.data.datasets = ds;
  chart.options.scales.x.min = min;
  chart.options.scales.x.max = now;
  chart.options.scales.y.title = { display: true, text: metric, font: { size: 10 } };
  chart.update('none');
  chart.$card.dataset.metric = metric;
  chart.$card.dataset.points = points;
  chart.$card.dataset.faultSpans = shaded;
  chart.$card.dataset.activeFaultSpans = live;
  const total = Object.values(state.charts).reduce((a, c) => a + Number(c.$card.dataset.points || 0), 0);
  $('#charts').dataset.points = total;
  $('#charts').dataset.activeFaultSpans = live;
}

async function loadHistory(cat) {
  const metric = chosenMetric(cat);
  const end = Math.floor(Date.now() / 1000);
  const start = end - 1800;
  await Promise.all(state.nodes.filter((n) => n.state !== 'down').map(async (n) => {
    const key = seriesKey(n.name, cat, metric);
    try {
      const h = await api('GET', `/api/metrics/history?node=${encodeURIComponent(n.name)}&metric=${encodeURIComponent(metric)}&start=${start}&end=${end}&source=ring`);
      const pts = (h.points || []).filter((p) => typeof p.value === 'number').map((p) => ({ x: Date.parse(p.timestamp), y: p.value }));
      const cur = state.series[key] || [];
      const firstLive = cur.length ? cur[0].x : Infinity;
      state.series[key] = pts.filter((p) => p.x < firstLive).concat(cur);
    } catch (e) { /* the node has no such series yet: live points fill it */ }
  }));
}

async function pollMetrics() {
  let d;
  try {
    d = await api('GET', '/api/metrics');
  } catch (e) {
    $('#charts').dataset.error = e.message;
    if (!$('#charts').children.length) $('#charts').innerHTML = `<p class="err">${esc(e.message)}</p>`;
    return;
  }
  const m = d.metrics || {};
  state.lastNodes = m;
  const fresh = [];
  for (const node of Object.keys(m)) {
    for (const cat of Object.keys(m[node])) {
      const c = state.categories[cat] || (state.categories[cat] = { metrics: {}, pick: null });
      if (!state.charts[cat]) fresh.push(cat);
      for (const [name, p] of Object.entries(m[node][cat])) {
        c.metrics[name] = p.kind;
        if (typeof p.value !== 'number') continue;
        const x = Date.parse(p.timestamp);
        const key = seriesKey(node, cat, name);
        if (pushPoint(key, x, p.value) && p.has_fluctuation) {
          const f = state.fluct[key] || (state.fluct[key] = []);
          f.push({ x, y: p.value });
          if (f.length > 500) f.shift();
        }
      }
    }
  }
  const uniq = [...new Set(fresh)].sort();
  for (const cat of uniq) ensureChart(cat);
  await Promise.all(uniq.map(loadHistory));
  Object.keys(state.charts).forEach(drawChart);
}

/* Fault spans: every injection kept (active ones open-ended), so reverted
 * faults stay visible where they happened. */
function spansFrom(list) {
  return list.filter((a) => a.start_ts).map((a) => {
    const active = ['pending', 'injecting', 'active', 'reverting'].includes(a.status);
    return {
      start: a.start_ts * 1000,
      end: active ? null : (a.ended_ts || a.end_ts || a.start_ts) * 1000,
      label: `${a.type}@${Array.isArray(a.node) ? a.node.join('+') : a.node}`,
    };
  });
}

async function refreshSpans() {
  try {
    const all = await api('GET', '/api/anomaly/anomalies');
    const list = Array.isArray(all) ? all : (all.anomalies || all.data || []);
    state.spans = spansFrom(list);
  } catch (e) { /* keep the last spans */ }
}

/* ---- faults and workloads ---------------------------------------------- */
async function loadTypes() {
  try {
    state.types = await api('GET', '/api/anomaly/types');
    $('#f-type').innerHTML = state.types.map((t) => `<option value="${esc(t.type)}">${esc(t.type)} (${esc(t.category)})</option>`).join('');
    describeType();
  } catch (e) {
    show($('#inject-result'), e.message, false);
  }
}

function describeType() {
  const t = state.types.find((x) => x.type === $('#f-type').value);
  if (!t) return;
  const ok = t.nodes ? Object.entries(t.nodes).filter(([, v]) => v.supported).map(([k]) => k) : [];
  $('#f-desc').textContent = `${t.description} Nodes: ${ok.join(', ') || 'none supported here'}.`;
  if (t.default_duration_s) $('#f-dur').value = t.default_duration_s;
}
$('#f-type').addEventListener('change', describeType);

function renderActive(list) {
  state.active = list;
  $('#active').dataset.count = list.length;
  $('#active tbody').innerHTML = list.length ? list.map((a) => `<tr data-id="${esc(a.id)}" data-type="${esc(a.type)}">
    <td>${esc(a.name)}</td><td>${esc(a.type)}</td><td>${esc(Array.isArray(a.node) ? a.node.join(', ') : a.node)}</td>
    <td>${esc(a.severity)}</td><td>${esc(a.status)}</td><td>${a.start_ts ? esc(timeStr(a.start_ts * 1000)) : '–'}</td>
    <td>${a.planned_end_ts ? esc(timeStr(a.planned_end_ts * 1000)) : '–'}</td>
    <td><button type="button" data-revert="${esc(a.id)}">Revert</button></td></tr>`).join('')
    : '<tr><td colspan="8" class="hint">no fault active</td></tr>';
}

function connectStream() {
  const es = new EventSource('/api/anomaly/stream');
  es.addEventListener('open', () => { $('#sse-state').textContent = 'stream: live'; $('#sse-state').className = 'pill live'; });
  es.addEventListener('error', () => { $('#sse-state').textContent = 'stream: reconnecting'; $('#sse-state').className = 'pill'; });
  es.addEventListener('anomaly_update', (ev) => {
    let list = [];
    try { list = JSON.parse(ev.data); } catch (e) { return; }
    renderActive(Array.isArray(list) ? list : []);
    refreshSpans().then(() => Object.keys(state.charts).forEach(drawChart));
  });
}

$('#inject-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { type: $('#f-type').value, target_node: $('#f-node').value, severity: $('#f-sev').value, duration: Number($('#f-dur').value) };
  try {
    const r = await api('POST', '/api/anomaly/inject', body);
    show($('#inject-result'), 'injected: ' + (r.experiment_name || r.name || r.id || JSON.stringify(r)), true);
  } catch (e) { show($('#inject-result'), e.message, false); }
});

$('#stop-all').addEventListener('click', async () => {
  try {
    const r = await api('POST', '/api/anomaly/stop-all');
    show($('#inject-result'), 'stopped: ' + ((r.reverted || r.stopped || r.deleted || []).length || 0) + ' fault(s)', true);
  } catch (e) { show($('#inject-result'), e.message, false); }
});

$('#active').addEventListener('click', async (ev) => {
  const id = ev.target.dataset && ev.target.dataset.revert;
  if (!id) return;
  try {
    await api('DELETE', '/api/anomaly/anomalies/' + encodeURIComponent(id));
    show($('#active-result'), 'reverted ' + id, true);
  } catch (e) { show($('#active-result'), e.message, false); }
});

$('#wl-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { type: 'sysbench', threads: Number($('#wl-threads').value),
    options: { time: Number($('#wl-time').value), prepare_db: $('#wl-prepare').checked } };
  try {
    const r = await api('POST', '/api/workload/start', body);
    show($('#wl-result'), 'started ' + (r.id || r.workload_id || JSON.stringify(r)), true);
    refreshWorkloads();
  } catch (e) { show($('#wl-result'), e.message, false); }
});

$('#wl-stop-all').addEventListener('click', async () => {
  try {
    await api('POST', '/api/workload/stop-all');
    show($('#wl-result'), 'stopped every run', true);
    refreshWorkloads();
  } catch (e) { show($('#wl-result'), e.message, false); }
});

$('#wl-active').addEventListener('click', async (ev) => {
  const id = ev.target.dataset && ev.target.dataset.stopWl;
  if (!id) return;
  try {
    await api('POST', `/api/workload/${encodeURIComponent(id)}/stop`);
    show($('#wl-result'), 'stopped ' + id, true);
    refreshWorkloads();
  } catch (e) { show($('#wl-result'), e.message, false); }
});

/* ---- diagnosis -------------------------------------------------------- */
function ranksTable(ranks) {
  if (!ranks || !ranks.length) return '<p class="normal">normal — no &lt;node, type&gt; ranks above the threshold</p>';
  const top = Math.max(...ranks.map((r) => r.score || 0), 1e-9);
  return `<table class="ranks"><thead><tr><th>#</th><th>Node</th><th>Type</th><th>Score</th><th>Probability</th><th>Graph (PageRank)</th></tr></thead><tbody>
    ${ranks.map((r, i) => `<tr><td>${i + 1}</td><td>${esc(r.node)}</td><td>${esc(r.type)}</td>
    <td><span class="bar" style="width:${Math.round(60 * (r.score || 0) / top)}px"></span> ${fmt(r.score, 3)}</td>
    <td>${fmt(r.positive_prob_score, 3)}</td><td>${fmt(r.pagerank_score, 3)}</td></tr>`).join('')}</tbody></table>`;
}

function graphTable(pg) {
  const rows = pg ? Object.keys(pg) : [];
  if (!rows.length) return '<p class="hint">no propagation graph for this window</p>';
  const cols = [...new Set(rows.concat(...rows.map((r) => Object.keys(pg[r]))))];
  const max = Math.max(1e-9, ...rows.map((r) => Math.max(0, ...Object.values(pg[r]))));
  return `<table class="heat"><thead><tr><th>from \\ to</th>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>
    ${rows.map((r) => `<tr><th>${esc(r)}</th>${cols.map((c) => {
      const v = pg[r][c];
      const a = typeof v === 'number' ? Math.min(1, v / max) : 0;
      return `<td style="background:rgba(36,99,199,${(0.08 + 0.6 * a).toFixed(2)})">${fmt(v, 3)}</td>`;
    }).join('')}</tr>`).join('')}</tbody></table><p class="hint">edge weights between nodes as the model's graph ranks them</p>`;
}

function noModelHelp(msg) {
  return `<p class="err">${esc(msg)}</p><p class="hint">Train a model first: record cases (Faults view, or a campaign
    in the Campaigns view, which trains at the end), then <code>POST /api/models/train</code>
    (<code>curl -X POST -H 'Content-Type: application/json' -d '{}' http://host:port/api/models/train</code>).</p>`;
}

async function refreshDiagnosis() {
  let st;
  try {
    st = await api('GET', '/api/models/active');
  } catch (e) {
    $('#diag-now').innerHTML = noModelHelp(e.message);
    $('#diag-model').textContent = '';
    refreshRooter();
    return;
  }
  state.model = st.active_model;
  if (!st.active_model) {
    $('#diag-model').textContent = 'no active model';
    $('#diag-now').innerHTML = noModelHelp('No model is trained or loaded, so the <node, type> ranking is not available.');
    $('#graph').innerHTML = '<p class="hint">needs a trained model</p>';
    $('#diag-now').dataset.state = 'no-model';
  } else {
    $('#diag-model').textContent = 'model: ' + st.active_model;
    try {
      const d = await api('POST', '/api/diagnosis', { source: 'ring' });
      $('#diag-now').innerHTML = ranksTable(d.all_ranked_anomalies || []);
      $('#graph').innerHTML = graphTable(d.propagation_graph);
      $('#diag-now').dataset.state = (d.all_ranked_anomalies || []).length ? 'ranked' : 'normal';
    } catch (e) {
      $('#diag-now').innerHTML = e.status === 503 ? noModelHelp(e.message) : `<p class="err">${esc(e.message)}</p>`;
      $('#diag-now').dataset.state = 'error';
    }
  }
  refreshRooter();
}
$('#diag-refresh').addEventListener('click', refreshDiagnosis);

$('#range-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const now = Date.now() / 1000;
  const body = { start: Math.floor(now - 60 * Number($('#r-from').value)), end: Math.floor(now - 60 * Number($('#r-to').value)), source: $('#r-src').value };
  try {
    const d = await api('POST', '/api/diagnosis', body);
    show($('#range-result'), `diagnosed ${new Date(body.start * 1000).toLocaleTimeString()}–${new Date(body.end * 1000).toLocaleTimeString()} (${d.source || body.source})`, true);
    $('#diag-now').innerHTML = ranksTable(d.all_ranked_anomalies || []);
    $('#graph').innerHTML = graphTable(d.propagation_graph);
  } catch (e) { show($('#range-result'), e.message, false); }
});

async function refreshRooter() {
  const node = $('#mr-node').value;
  if (!node) { $('#mr-out').innerHTML = '<p class="hint">no nodes</p>'; return; }
  try {
    const [r, s] = await Promise.all([
      api('GET', '/api/models/metrics_ranks?languages=en&node=' + encodeURIComponent(node)),
      api('GET', '/api/models/metrics_summary?languages=en&node=' + encodeURIComponent(node)).catch((e) => ({ error: e.message })),
    ]);
    const ms = (r.metrics || []).slice(0, 12);
    $('#mr-out').innerHTML = (ms.length ? `<table><thead><tr><th>Metric</th><th>Category</th><th>z</th><th>Score</th><th>Latest</th></tr></thead><tbody>
      ${ms.map((m) => `<tr><td>${esc(m.name)}</td><td>${esc(m.category)}</td><td>${fmt(m.z_score)}</td><td>${fmt(m.score, 3)}</td><td>${fmt(m.latest_value)}</td></tr>`).join('')}</tbody></table>`
      : '<p class="normal">no anomalous metric on this node</p>')
      + (s.error ? `<p class="err">${esc(s.error)}</p>` : `<h3>Summary</h3><pre>${esc(typeof s.summary === 'string' ? s.summary : JSON.stringify(s.summary, null, 1))}</pre>`
        + (s.actions ? `<pre>${esc(Array.isArray(s.actions) ? s.actions.join('\n') : JSON.stringify(s.actions, null, 1))}</pre>` : ''));
  } catch (e) {
    $('#mr-out').innerHTML = `<p class="err">${esc(e.message)}</p>`;
  }
}
$('#mr-node').addEventListener('change', refreshRooter);

/* ---- campaigns -------------------------------------------------------- */
let repCharts = [];

async function refreshExperiments() {
  try {
    const d = await api('GET', '/api/experiments');
    const list = d.experiments || [];
    $('#exps').dataset.count = list.length;
    $('#exps tbody').innerHTML = list.length ? list.map((x) => {
      const p = x.progress;
      const prog = p && typeof p === 'object' ? `${esc(p.done ?? p.current ?? '')}/${esc(p.total ?? '')} ${esc(p.step || p.stage || '')}` : esc(p ?? '');
      const ac1 = x.accuracy && x.accuracy.graph ? fmt(x.accuracy.graph['AC@1'], 3) : '–';
      return `<tr><td>${esc(x.id)}</td><td>${esc(x.name || '')}</td><td>${esc(x.status)}</td><td>${prog} ${esc(x.message || '')}</td>
        <td>${esc(x.cases)}</td><td>${ac1}</td><td><button type="button" data-report="${esc(x.id)}">Report</button>
        ${['running', 'queued'].includes(x.status) ? `<button type="button" class="danger" data-cancel="${esc(x.id)}">Cancel</button>` : ''}</td></tr>`;
    }).join('') : '<tr><td colspan="7" class="hint">no campaign yet</td></tr>';
  } catch (e) {
    $('#exps tbody').innerHTML = `<tr><td colspan="7" class="err">${esc(e.message)}</td></tr>`;
  }
}

$('#exp-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  let body;
  try { body = JSON.parse($('#exp-body').value); } catch (e) { show($('#exp-result'), 'not JSON: ' + e.message, false); return; }
  try {
    const r = await api('POST', '/api/experiments', body);
    show($('#exp-result'), `started ${r.id || r.job_id}${r.plan && r.plan.estimated_s ? ', about ' + Math.round(r.plan.estimated_s / 60) + ' min' : ''}`, true);
    refreshExperiments();
  } catch (e) { show($('#exp-result'), e.message, false); }
});

/* AC@k per method: every member of an accuracy object that holds AC@k keys. */
function methodsOf(o) {
  return Object.entries(o || {}).filter(([, v]) => v && typeof v === 'object' && 'AC@1' in v);
}

async function showReport(id) {
  let x;
  try { x = await api('GET', '/api/experiments/' + encodeURIComponent(id)); } catch (e) { show($('#exp-result'), e.message, false); return; }
  $('#exp-report').hidden = false;
  $('#rep-id').textContent = id + ' (' + x.status + ')';
  repCharts.forEach((c) => c.destroy());
  repCharts = [];
  $('#rep-charts').innerHTML = '';
  const acc = x.report && x.report.accuracy;
  if (!acc) {
    $('#rep-table').innerHTML = '<p class="hint">no report yet (the campaign writes it when it ends)</p>';
    $('#rep-cases').innerHTML = '';
    return;
  }
  const groups = [['overall', acc.overall]].concat(Object.entries(acc.by_group || {}));
  let rows = '';
  let bars = 0;
  for (const [g, o] of groups) {
    const ms = methodsOf(o);
    if (!ms.length) continue;
    ms.forEach(([m, v]) => { rows += `<tr><td>${esc(g)}</td><td>${esc(m)}</td><td>${fmt(v['AC@1'], 3)}</td><td>${fmt(v['AC@3'], 3)}</td><td>${fmt(v['AC@5'], 3)}</td></tr>`; });
    const card = document.createElement('div');
    card.className = 'chart-card';
    card.innerHTML = `<h3>${esc(g)}${o.test_cases !== undefined ? ' (' + esc(o.test_cases) + ' test cases)' : ''}</h3><div class="chart-box"><canvas></canvas></div>`;
    $('#rep-charts').appendChild(card);
    const ks = ['AC@1', 'AC@3', 'AC@5'];
    repCharts.push(new Chart($('canvas', card), {
      type: 'bar',
      data: { labels: ks, datasets: ms.map(([m, v], i) => ({ label: m, data: ks.map((k) => v[k]), backgroundColor: COLORS[i % COLORS.length] })) },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { min: 0, max: 1 } } },
    }));
    bars += ms.length * ks.length;
  }
  $('#rep-charts').dataset.bars = bars;
  $('#rep-table').innerHTML = `<table><thead><tr><th>Group</th><th>Method</th><th>AC@1</th><th>AC@3</th><th>AC@5</th></tr></thead><tbody>${rows}</tbody></table>`;
  const cases = x.report.cases || [];
  $('#rep-cases').innerHTML = cases.length ? `<table><thead><tr><th>Scenario</th><th>Group</th><th>Split</th><th>Faults</th><th>Case</th><th>Note</th></tr></thead><tbody>
    ${cases.map((c) => `<tr><td>${esc(c.scenario)}</td><td>${esc(c.group)}</td><td>${esc(c.split)}</td>
    <td>${esc((c.faults || []).map((f) => f.type + '@' + f.node).join(', '))}</td><td>${esc(c.case || '')}</td>
    <td class="err">${esc(c.error || c.inject_error || c.warning || '')}</td></tr>`).join('')}</tbody></table>` : '<p class="hint">no cases</p>';
}

$('#exps').addEventListener('click', async (ev) => {
  const d = ev.target.dataset || {};
  if (d.report) showReport(d.report);
  if (d.cancel) {
    try { await api('DELETE', '/api/experiments/' + encodeURIComponent(d.cancel)); refreshExperiments(); } catch (e) { show($('#exp-result'), e.message, false); }
  }
});

/* ---- start ------------------------------------------------------------- */
$('#window').addEventListener('change', () => {
  state.windowS = Number($('#window').value);
  Object.keys(state.charts).forEach(drawChart);
});

async function start() {
  tokenState();
  let health = {};
  try { health = await api('GET', '/health'); } catch (e) { banner('the daemon does not answer /health: ' + e.message); }
  document.body.dataset.health = health.status || 'unknown';
  await refreshNodes();
  await Promise.all([loadTypes(), refreshSpans(), refreshWorkloads()]);
  connectStream();
  await pollMetrics();
  document.body.dataset.ready = '1';
  setInterval(pollMetrics, 3000);
  setInterval(refreshNodes, 5000);
  setInterval(refreshWorkloads, 5000);
  setInterval(() => { if (document.body.dataset.view === 'campaigns') refreshExperiments(); }, 5000);
  setInterval(() => { if (document.body.dataset.view === 'diagnosis') refreshDiagnosis(); }, 15000);
  const v = location.hash.replace('#', '');
  showView(['cluster', 'faults', 'diagnosis', 'campaigns'].includes(v) ? v : 'cluster');
}
start();
