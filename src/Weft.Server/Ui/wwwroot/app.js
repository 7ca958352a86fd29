// The Weft dashboard: polls the server's HTTP API (the same one the CLI uses) and renders it. No framework, no build.
'use strict';

const TOKEN_KEY = 'weft.token';
const POLL_MS = 1500;
const CONFIG_KINDS = ['service-defaults', 'service-router', 'service-splitter', 'service-resolver', 'service-intentions'];
const $ = id => document.getElementById(id);
let selected = decodeURIComponent((location.hash.match(/service=([^&]+)/) || [])[1] || '') || null;
let tick = 0;
let firstRender = null;
let completeRender = null;
performance.mark('weft-script-start');

class AuthError extends Error {}

const esc = s => String(s ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const rate = r => r == null ? '–' : r >= 100 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2);
const pct = s => s == null ? '–' : (s * 100).toFixed(s >= 0.999 || s === 0 ? 0 : 1) + '%';
const dur = s => s == null ? '–' : s < 0.001 ? (s * 1e6).toFixed(0) + ' µs' : s < 1 ? (s * 1000).toFixed(s < 0.01 ? 2 : 1) + ' ms' : s.toFixed(2) + ' s';
const rank = { passing: 0, warning: 1, critical: 2, maintenance: 3 };
const worst = statuses => statuses.reduce((w, s) => (rank[s] ?? 2) > (rank[w] ?? 0) ? s : w, 'passing');

async function api(path) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers['X-Consul-Token'] = token;
  const response = await fetch(path, { headers, cache: 'no-store' });
  if (response.status === 403) throw new AuthError((await response.text()).trim());
  if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.text()).trim()}`);
  return response.json();
}

function serviceHealth(s) {
  if (s.Instances === 0) return 'none';
  return s.Critical > 0 ? 'critical' : s.Warning > 0 ? 'warning' : 'passing';
}

// The rows a first screen shows, and more: on the first render the rest of a long list goes in after the first
// paint. Later refreshes replace every row at once, so a table scrolled down never shrinks under the reader.
const FIRST_ROWS = 100;
const afterPaint = fn => new Promise(resolve => requestAnimationFrame(() => setTimeout(() => { fn(); resolve(); }, 0)));

// Returns a promise for the rows past FIRST_ROWS, or nothing when there are none.
function renderServices(stats) {
  const rows = stats.Services.map(s => {
    const health = serviceHealth(s);
    return `<tr data-testid="service-row-${esc(s.Name)}" data-service="${esc(s.Name)}" data-health="${health}"${s.Name === selected ? ' class="selected"' : ''}>` +
      `<td>${esc(s.Name)}</td><td data-testid="service-instances">${s.Instances}</td>` +
      `<td data-testid="service-health"><span class="passing">${s.Passing}</span> / <span class="warning">${s.Warning}</span> / <span class="critical">${s.Critical}</span></td>` +
      `<td data-testid="service-rps">${rate(s.RequestsPerSecond)}</td><td data-testid="service-success">${pct(s.SuccessRate)}</td>` +
      `<td data-testid="service-p50">${dur(s.P50Seconds)}</td><td data-testid="service-p99">${dur(s.P99Seconds)}</td></tr>`;
  });
  if (firstRender !== null || rows.length <= FIRST_ROWS) { $('services').innerHTML = rows.join(''); return; }
  $('services').innerHTML = rows.slice(0, FIRST_ROWS).join('');
  return afterPaint(() => $('services').insertAdjacentHTML('beforeend', rows.slice(FIRST_ROWS).join('')));
}

function chart(history) {
  const w = 600, h = 120, pad = 4;
  const max = (key) => Math.max(...history.map(p => p[key] ?? 0), 0);
  const line = (key, top) => {
    let d = '';
    history.forEach((p, i) => {
      if (p[key] == null) return;
      const x = pad + i * (w - 2 * pad) / Math.max(1, history.length - 1);
      const y = h - pad - (top > 0 ? p[key] / top : 0) * (h - 2 * pad);
      d += `${d ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    });
    return d;
  };
  const rps = max('RequestsPerSecond'), p99 = max('P99Seconds');
  return `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img" aria-label="requests per second and p99 latency, last 10 minutes">` +
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#f6f8fa"/>` +
    `<path data-testid="chart-rps" d="${line('RequestsPerSecond', rps)}" fill="none" stroke="#0969da" stroke-width="1.5" vector-effect="non-scaling-stroke"/>` +
    `<path data-testid="chart-p99" d="${line('P99Seconds', p99)}" fill="none" stroke="#bc4c00" stroke-width="1" stroke-dasharray="3 2" vector-effect="non-scaling-stroke"/></svg>` +
    `<div class="legend"><span class="rps">req/s (max ${rate(rps)})</span><span class="p99">p99 (max ${dur(p99 || null)})</span><span>last 10 min, 5 s points</span></div>`;
}

const fetchDetail = name =>
  Promise.all([api(`/v1/weft/stats/${encodeURIComponent(name)}`), api(`/v1/health/service/${encodeURIComponent(name)}`)]);

// pending: the detail already asked for (refresh asks for it together with the list); else it is asked for now.
async function renderDetail(pending) {
  if (!selected) { $('detail').hidden = true; return; }
  let detail, instances;
  try {
    [detail, instances] = await (pending ?? fetchDetail(selected));
  } catch (e) {
    if (e instanceof AuthError) throw e;
    $('detail').hidden = true;
    return;
  }
  $('detail').hidden = false;
  $('detail-name').textContent = detail.Name;
  $('detail-signals').innerHTML =
    `<span>req/s <b data-testid="detail-rps">${rate(detail.RequestsPerSecond)}</b></span><span>success <b data-testid="detail-success">${pct(detail.SuccessRate)}</b></span>` +
    `<span>p50 <b>${dur(detail.P50Seconds)}</b></span><span>p99 <b>${dur(detail.P99Seconds)}</b></span>` +
    `<span>callers: ${esc(detail.Callers.map(e => e.Source).join(', ') || 'none seen')}</span>`;
  $('chart').innerHTML = chart(detail.History);
  $('instances').innerHTML = instances.map(entry => {
    const svc = entry.Service;
    const health = worst(entry.Checks.map(c => c.Status));
    const checks = entry.Checks.map(c =>
      `<div class="check" data-testid="check-${esc(c.CheckID)}" data-status="${esc(c.Status)}"><span class="${esc(c.Status)}">${esc(c.Status)}</span> ${esc(c.Name || c.CheckID)}` +
      `${c.Output ? `<pre>${esc(c.Output)}</pre>` : ''}</div>`).join('');
    return `<tr data-testid="instance-row-${esc(svc.ID)}" data-health="${health}"><td>${esc(svc.ID)}</td><td>${esc(entry.Node.Node)}</td>` +
      `<td>${esc(svc.Address || entry.Node.Address)}:${svc.Port}</td><td class="${health}">${health}</td><td>${checks || 'no checks'}</td></tr>`;
  }).join('');
  $('routes').innerHTML = detail.Routes.map(r =>
    `<tr data-testid="route-row-${esc(r.Route)}"><td>${esc(r.Route)}</td><td>${rate(r.RequestsPerSecond)}</td><td>${pct(r.SuccessRate)}</td><td>${dur(r.P50Seconds)}</td><td>${dur(r.P99Seconds)}</td></tr>`).join('')
    || '<tr><td colspan="5">no traffic in the window</td></tr>';
}

// Columns by depth from the callers nobody calls; a cycle stops deepening after as many passes as there are nodes.
function renderTopology(edges) {
  if (edges.length === 0) { $('topology').innerHTML = '<p data-testid="topology-empty">No calls between services seen in the last minute.</p>'; return; }
  const nodes = [...new Set(edges.flatMap(e => [e.Source, e.Destination]))].sort();
  const depth = Object.fromEntries(nodes.map(n => [n, 0]));
  for (let pass = 0; pass < nodes.length; pass++) {
    let changed = false;
    for (const e of edges) if (e.Source !== e.Destination && depth[e.Destination] < depth[e.Source] + 1 && depth[e.Source] + 1 < nodes.length) { depth[e.Destination] = depth[e.Source] + 1; changed = true; }
    if (!changed) break;
  }
  const columns = {};
  nodes.forEach(n => (columns[depth[n]] ??= []).push(n));
  const colW = 230, rowH = 48, nodeW = 130, nodeH = 26;
  const pos = {};
  Object.entries(columns).forEach(([d, names]) => names.forEach((n, i) => pos[n] = { x: 10 + d * colW, y: 10 + i * rowH }));
  const width = 20 + (Math.max(...Object.keys(columns).map(Number)) + 1) * colW;
  const height = 20 + Math.max(...Object.values(columns).map(c => c.length)) * rowH;
  const lines = edges.map(e => {
    const a = pos[e.Source], b = pos[e.Destination];
    const color = e.SuccessRate == null ? '#8c959f' : e.SuccessRate >= 0.99 ? '#1a7f37' : e.SuccessRate >= 0.9 ? '#b08800' : '#cf222e';
    const x1 = a.x + nodeW, y1 = a.y + nodeH / 2, x2 = b.x, y2 = b.y + nodeH / 2;
    return `<g data-testid="topology-edge-${esc(e.Source)}-${esc(e.Destination)}"><line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${color}" stroke-width="2" marker-end="url(#arrow)"/>` +
      `<text x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 4}" font-size="10" text-anchor="middle">${rate(e.RequestsPerSecond)}/s ${pct(e.SuccessRate)}</text></g>`;
  });
  const boxes = nodes.map(n => `<g data-testid="topology-node-${esc(n)}"><rect x="${pos[n].x}" y="${pos[n].y}" width="${nodeW}" height="${nodeH}" rx="4" fill="#fff" stroke="#57606a"/>` +
    `<text x="${pos[n].x + nodeW / 2}" y="${pos[n].y + 17}" font-size="12" text-anchor="middle">${esc(n)}</text></g>`);
  $('topology').innerHTML = `<svg viewBox="0 0 ${width} ${height}" style="max-width:${width}px"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#57606a"/></marker></defs>${lines.join('')}${boxes.join('')}</svg>`;
}

// Every config kind and the intentions, all asked for at once.
const fetchConfig = () => Promise.all([
  Promise.all(CONFIG_KINDS.map(kind => api(`/v1/config/${kind}`).catch(e => { if (e instanceof AuthError) throw e; return []; }))),
  api('/v1/connect/intentions'),
]);

function renderConfig([lists, intentions]) {
  const entries = lists.flat();
  $('config').innerHTML = entries.map(e => `<tr data-testid="config-row-${esc(e.Kind)}-${esc(e.Name)}"><td>${esc(e.Kind)}</td><td>${esc(e.Name)}</td><td><pre class="entry">${esc(JSON.stringify(e, null, 1))}</pre></td></tr>`).join('')
    || '<tr><td colspan="3">none</td></tr>';
  $('intentions').innerHTML = intentions.map(i => `<tr data-testid="intention-row-${esc(i.SourceName)}-${esc(i.DestinationName)}"><td>${esc(i.SourceName)}</td><td>${esc(i.DestinationName)}</td><td>${esc(i.Action || 'L7 permissions')}</td></tr>`).join('')
    || '<tr><td colspan="3">none</td></tr>';
}

function showPrompt(message) {
  $('main').hidden = true;
  $('token-prompt').hidden = false;
  $('signout').hidden = true;
  $('token-error').textContent = sessionStorage.getItem(TOKEN_KEY) ? `The server refused the token: ${message}` : '';
  $('status').textContent = 'token needed';
}

// A promise whose failure is dealt with where it is awaited (or not at all, when an earlier failure ends the refresh).
const later = p => { p?.catch(() => {}); return p; };

async function refresh() {
  // Everything the view needs is asked for at once, so a refresh waits for the slowest answer, not for their sum.
  const config = later(tick++ % 4 === 0 ? fetchConfig() : null);
  const detail = later(selected ? fetchDetail(selected) : null);
  // The first refresh leaves marks (performance.getEntriesByType('mark')) for bench/dashboard's timeline.
  const mark = name => { if (completeRender === null) performance.mark(name); };
  try {
    const stats = await api('/v1/weft/stats?history=false');
    mark('weft-stats-fetched');
    $('token-prompt').hidden = true;
    $('main').hidden = false;
    $('signout').hidden = !sessionStorage.getItem(TOKEN_KEY);
    const moreRows = renderServices(stats);
    mark('weft-services-rendered');
    await renderDetail(detail);
    mark('weft-detail-rendered');
    // First render: the first screen is on the page (the services' top rows, and the open service's detail).
    if (firstRender === null) {
      firstRender = performance.now();
      document.body.dataset.firstRenderMs = firstRender.toFixed(0);
    }
    // Below it, after the first paint: the rest of the rows, the topology, the config entries and intentions.
    await moreRows;
    mark('weft-rows-rendered');
    renderTopology(stats.Edges);
    mark('weft-topology-rendered');
    if (config) renderConfig(await config);
    mark('weft-config-rendered');
    $('status').textContent = `${stats.Services.length} services · updated ${new Date(stats.Time).toLocaleTimeString()}`;
    // Complete: every row, the topology, the config entries and intentions.
    if (completeRender === null) {
      completeRender = performance.now();
      document.body.dataset.completeRenderMs = completeRender.toFixed(0);
    }
  } catch (e) {
    if (e instanceof AuthError) showPrompt(e.message);
    else $('status').textContent = `cannot reach the server: ${e.message}`;
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, POLL_MS);
}

$('services').addEventListener('click', e => {
  const row = e.target.closest('tr[data-service]');
  if (!row) return;
  selected = row.dataset.service;
  location.hash = `service=${encodeURIComponent(selected)}`;
  document.querySelectorAll('#services tr.selected').forEach(r => r.classList.remove('selected'));
  row.classList.add('selected');
  renderDetail().catch(() => {});
});

$('token-prompt').addEventListener('submit', e => {
  e.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  tick = 0;
  refresh();
});

$('signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  refresh();
});

loop();
