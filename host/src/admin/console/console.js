// Plexus operator console: a small single-page app over the host's /admin JSON API.
// No framework and no build step; the host serves this file from its binary. Data never goes
// through innerHTML: every value is set as text. The bearer token (when the host asks for one)
// lives in sessionStorage and travels only in the Authorization header.
'use strict';

(() => {
  const TOKEN_KEY = 'plexus.console.token';
  const REFRESH_MS = 5000;
  const REQUEST_TIMEOUT_MS = 10000;
  const SVG = 'http://www.w3.org/2000/svg';

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    view: null,        // the active view object
    route: null,       // {name, arg, params}
    timer: null,
    self: null,        // this host's overview
    peers: null,       // GET /admin/peers
  };

  // ---- DOM helpers ----

  const $ = (sel, root = document) => root.querySelector(sel);

  // el('div', {class: 'x', onclick: f}, 'text', child, ...): builds elements, values as text only.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // Replaces a node's children; null, undefined and false are left out (not shown as text).
  function fill(node, ...children) {
    node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function table(caption, headers, rows, attrs) {
    return el('div', {class: 'table-wrap'},
      el('table', attrs || {},
        el('caption', {class: 'sr-only'}, caption),
        el('thead', {}, el('tr', {}, headers.map((h) => el('th', {scope: 'col', class: h.cls}, h.text || h)))),
        el('tbody', {}, rows)));
  }

  function card(label, value, extra) {
    return el('div', {class: 'card'}, el('div', {class: 'label'}, label),
      el('div', {class: 'value'}, value), extra || null);
  }

  function pill(text, kind) { return el('span', {class: `pill ${kind || ''}`}, text); }

  function status(message, isError) {
    const s = $('#status');
    s.textContent = message || '';
    s.className = isError ? 'error' : '';
  }

  // For promises started by a click: show the failure instead of leaving it unhandled.
  function report(e) {
    if (e.status !== 401 && e.status !== 403) status(e.message, true);
  }

  function pretty(value) {
    return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  }

  function when(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds || 0));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s % 60}s`;
    return `${s}s`;
  }

  function rate(v) {
    if (v === null || v === undefined) return '–';
    return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  }

  function short(id) { return id && id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : (id || ''); }

  // ---- the API ----

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  // fetch with the token, a timeout and JSON errors. 401 shows the sign-in form.
  async function api(path, options = {}) {
    const headers = {Accept: 'application/json'};
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), options.timeoutMs || REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(path, {
        method: options.method || 'GET', headers, credentials: 'omit', cache: 'no-store',
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: abort.signal,
      });
    } catch (e) {
      throw new ApiError(0, abort.signal.aborted ? `no answer from ${path} in time` : `cannot reach the host (${e.message})`);
    } finally {
      clearTimeout(timer);
    }
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
    if (response.status === 401 || response.status === 403) {
      const why = (body && body.error) || `HTTP ${response.status}`;
      showLogin(response.status === 403 ? `The token lacks a required scope (${why}).` : (state.token ? `The host refused the token: ${why}.` : ''));
      throw new ApiError(response.status, why, body);
    }
    if (!response.ok) {
      throw new ApiError(response.status, (body && body.error) || `HTTP ${response.status}`, body);
    }
    return {status: response.status, body, headers: response.headers};
  }

  // The "next" target of a Link header, if any.
  function nextLink(headers) {
    const link = headers.get('Link') || '';
    const m = /<([^>]+)>;\s*rel="next"/.exec(link);
    return m ? m[1] : null;
  }

  // ---- sign-in ----

  function showLogin(message) {
    $('#login').hidden = false;
    $('#view').hidden = true;
    $('#login-error').textContent = message || '';
    $('#signout').hidden = !state.token;
    $('#token').focus();
  }

  function hideLogin() {
    $('#login').hidden = true;
    $('#view').hidden = false;
    $('#signout').hidden = !state.token;
  }

  async function signIn(token) {
    state.token = token.trim();
    if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
    try {
      await loadSelf();
      hideLogin();
      $('#token').value = '';
      route();
    } catch (e) {
      if (e.status !== 401 && e.status !== 403) showLogin(e.message);
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = '';
    }
  }

  async function loadSelf() {
    const {body} = await api('/admin/overview');
    state.self = body;
    $('#service').textContent = `${body.service} · ${body.version}`;
    document.title = `${body.service} – Plexus console`;
    const badge = $('#dl-badge');
    badge.hidden = !body.deadLetters;
    badge.textContent = body.deadLetters ? String(body.deadLetters) : '';
    badge.setAttribute('aria-label', `${body.deadLetters || 0} dead letters`);
    return body;
  }

  // ---- charts: inline SVG lines, scaled to the series' maximum ----

  // series: [{key, label, values}]; values may hold nulls (no data in that interval).
  function lineChart(title, series, unit) {
    let max = 0;
    for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
    const top = max > 0 ? max * 1.1 : 1;
    const points = Math.max(2, ...series.map((s) => s.values.length));
    const chart = svg('svg', {class: 'chart', viewBox: '0 0 300 90', preserveAspectRatio: 'none', role: 'img'});
    for (const y of [22.5, 45, 67.5]) chart.append(svg('line', {class: 'grid', x1: 0, x2: 300, y1: y, y2: y}));
    const summary = [];
    for (const s of series) {
      const coords = [];
      s.values.forEach((v, i) => {
        if (v === null) return;
        coords.push(`${((i / (points - 1)) * 300).toFixed(1)},${(88 - (v / top) * 86).toFixed(1)}`);
      });
      if (coords.length === 1) coords.push(coords[0].replace(/^[^,]+/, '300'));
      chart.append(svg('polyline', {class: `s-${s.key}`, points: coords.join(' '), 'data-series': s.key}));
      const last = [...s.values].reverse().find((v) => v !== null);
      s.last = last === undefined ? null : last;
      summary.push(`${s.label} ${rate(s.last)}${unit}`);
    }
    chart.setAttribute('aria-label', `${title}: latest ${summary.join(', ')}; peak ${rate(max)}${unit}`);
    const legend = el('div', {class: 'legend'},
      series.map((s) => el('span', {class: `key k-${s.key}`}, el('span', {}, `${s.label} ${rate(s.last)}${unit}`))),
      el('span', {class: 'muted'}, `peak ${rate(max)}${unit}`));
    return el('div', {class: 'chart-box'}, chart, legend);
  }

  // ---- views ----
  // Each view: {title, render(root, route)} and optionally refresh() for live updates.

  const views = {};

  views.overview = {
    title: 'Overview',
    render(root) {
      this.root = root;
      fill(root, el('h1', {}, 'Overview'), el('div', {id: 'ov-cards', class: 'cards'}),
        el('h2', {}, 'Readiness'), el('div', {id: 'ov-ready'}),
        el('h2', {}, 'Plugins'), el('div', {id: 'ov-plugins'}, el('p', {class: 'muted'}, 'Loading…')));
      return this.refresh(true);
    },
    async refresh(withPlugins) {
      const o = await loadSelf();
      const flow = o.flow || {};
      const per = flow.perSecond || {};
      fill($('#ov-cards', this.root), 
        card('Service', o.service, el('div', {class: 'muted mono wrap'}, o.instance)),
        card('Version', o.version, el('div', {class: 'muted'}, `plugin ABI ${o.abi}`)),
        card('Uptime', duration(o.uptimeSeconds), el('div', {class: 'muted'}, `since ${when(o.startedAt)}`)),
        card('Readiness', pill(o.ready ? 'ready' : 'not ready', o.ready ? 'ok' : 'bad')),
        card('Broker', o.broker.transport,
          o.broker.nodes ? el('div', {class: 'muted wrap'}, o.broker.nodes.join(', '), ' · ', o.broker.state) : null),
        card('Store', o.store),
        card('Dead letters', el('a', {href: '#/dead-letters'}, String(o.deadLetters ?? '–'))),
        card('Messages', `${rate(per.handled)}/s`,
          el('div', {class: 'muted'}, `failed ${rate(per.failed)}/s · dead-lettered ${rate(per.deadLettered)}/s`)));
      const checks = (o.readiness && o.readiness.checks) || {};
      const rows = Object.entries(checks).map(([k, v]) => {
        const text = typeof v === 'object' ? Object.entries(v).map(([a, b]) => `${a}: ${b}`).join(', ') : String(v);
        const fine = /^(ok|connected)/.test(typeof v === 'object' ? v.status : v);
        return el('tr', {}, el('th', {scope: 'row'}, k), el('td', {}, pill(fine ? 'ok' : 'check', fine ? 'ok' : 'warn')),
          el('td', {class: 'wrap'}, text));
      });
      const reasons = (o.readiness && o.readiness.reasons) || [];
      fill($('#ov-ready', this.root), 
        table('Readiness checks', ['Check', 'State', 'Detail'], rows),
        reasons.length ? el('ul', {class: 'error'}, reasons.map((r) => el('li', {}, r))) : null);
      if (withPlugins === true || !this.pluginsShown) await this.plugins();
    },
    async plugins() {
      const {body} = await api('/admin/plugins');
      this.pluginsShown = true;
      const blocks = body.plugins.map((p) => el('div', {class: 'panel', 'data-plugin': p.name},
        el('h3', {}, `${p.name} `, el('span', {class: 'muted'}, p.version)),
        el('dl', {class: 'meta'},
          el('dt', {}, 'Library'), el('dd', {class: 'mono'}, p.library),
          el('dt', {}, 'SHA-256'), el('dd', {class: 'mono'}, p.sha256 || 'unreadable'),
          el('dt', {}, 'ABI'), el('dd', {}, p.abi)),
        table(`Components of ${p.name}`, ['Component', 'Kind', 'Message types'],
          p.components.map((c) => el('tr', {}, el('td', {class: 'mono'}, c.name), el('td', {}, c.kind),
            el('td', {class: 'wrap'}, c.types.join(', ') || '–')))),
        p.routes.length ? el('p', {}, el('strong', {}, 'Routes: '),
          p.routes.map((r, i) => [i ? ', ' : '', el('code', {}, `${r.method} ${r.path}`)])) : null,
        p.migrations.length ? table(`Migrations of ${p.name}`, ['Version', 'Migration', 'Applied'],
          p.migrations.map((m) => el('tr', {}, el('td', {class: 'num'}, m.version), el('td', {}, m.name),
            el('td', {}, m.appliedAt ? when(m.appliedAt) : pill('not applied', 'warn'))))) : null));
      const framework = body.frameworkMigrations || [];
      fill($('#ov-plugins', this.root), ...blocks,
        framework.length ? el('p', {class: 'muted'}, `Framework migrations applied: ${framework.map((m) => `v${m.version}`).join(', ')}`) : '');
    },
  };

  views.flow = {
    title: 'Flow',
    render(root, r) {
      this.root = root;
      this.minutes = Number(r.params.get('minutes')) || 5;
      const minutes = el('select', {id: 'flow-minutes', onchange: (e) => { this.minutes = Number(e.target.value); this.refresh().catch(report); }},
        [5, 15].map((m) => el('option', {value: m, selected: m === this.minutes}, `last ${m} minutes`)));
      const hosts = el('input', {type: 'checkbox', id: 'flow-host', onchange: () => this.refresh().catch(report)});
      fill(root, el('h1', {}, 'Flow'),
        el('div', {class: 'toolbar'}, el('label', {for: 'flow-minutes'}, 'Window '), minutes,
          el('label', {}, hosts, ' show /admin, /health and /metrics requests'),
          el('span', {class: 'grow'}), el('span', {id: 'flow-info', class: 'muted'})),
        el('h2', {}, 'Messages by handler and type'), el('div', {id: 'flow-handlers', class: 'charts'}),
        el('h2', {}, 'Handler latency'), el('div', {id: 'flow-latency', class: 'charts'}),
        el('h2', {}, 'Outbox'), el('div', {id: 'flow-outbox', class: 'charts'}),
        el('h2', {}, 'HTTP routes'), el('div', {id: 'flow-http', class: 'charts'}));
      return this.refresh();
    },
    async refresh() {
      const {body: f} = await api(`/admin/flow?minutes=${this.minutes}`);
      $('#flow-info', this.root).textContent = `${f.times.length} samples, every ${f.intervalSeconds} s`;
      const kinds = [['handled', 'handled'], ['failed', 'failed'], ['retried', 'retried'], ['deadLettered', 'dead-lettered']];
      const handlers = f.handlers.map((h) => el('div', {class: 'card', 'data-handler': h.handler, 'data-type': h.type,
        'data-handled-total': h.totals.handled, 'data-dead-total': h.totals.deadLettered},
        el('h3', {class: 'wrap'}, h.type, ' ', el('span', {class: 'muted'}, `→ ${h.handler}`)),
        lineChart(`${h.type} at ${h.handler}, messages per second`, kinds.map(([k, label]) => ({key: k, label, values: h[k]})), '/s'),
        el('div', {class: 'muted'}, `since start: ${h.totals.handled} handled, ${h.totals.failed} failed, ${h.totals.retried} retried, ${h.totals.deadLettered} dead-lettered`)));
      fill($('#flow-handlers', this.root), ...(handlers.length ? handlers : [el('p', {class: 'muted'}, 'No message handled yet.')]));
      const latency = f.latency.map((l) => el('div', {class: 'card', 'data-latency': l.handler},
        el('h3', {class: 'wrap'}, l.handler),
        lineChart(`${l.handler} handler latency, milliseconds`, ['p50', 'p95', 'p99'].map((k) => ({key: k, label: k, values: l[k].map((v) => (v === null ? null : v * 1000))})), ' ms')));
      fill($('#flow-latency', this.root), ...(latency.length ? latency : [el('p', {class: 'muted'}, 'No handler ran yet.')]));
      fill($('#flow-outbox', this.root), 
        el('div', {class: 'card'}, el('h3', {}, 'Pending rows'), lineChart('Outbox rows pending', [{key: 'pending', label: 'pending', values: f.outbox.pending}], '')),
        el('div', {class: 'card'}, el('h3', {}, 'Oldest pending row'), lineChart('Age of the oldest pending outbox row, seconds', [{key: 'age', label: 'age', values: f.outbox.oldestAgeSeconds}], ' s')));
      const showHost = $('#flow-host', this.root).checked;
      const hostRoute = (h) => /^\/(admin|health|metrics)/.test(h.route) || h.route === 'refused' || h.route === 'unmatched';
      const routes = f.http.filter((h) => showHost || !hostRoute(h));
      const http = routes.map((h) => {
        const by = h.byClass || {};
        const n = f.times.length;
        const sum = Array.from({length: n}, (_, i) => Object.values(by).reduce((a, s) => a + (s[i] || 0), 0));
        return el('div', {class: 'card', 'data-route': `${h.method} ${h.route}`},
          el('h3', {class: 'wrap mono'}, `${h.method} ${h.route}`),
          lineChart(`${h.method} ${h.route}, requests per second`, [
            {key: 'requests', label: 'all', values: sum},
            {key: '4xx', label: '4xx', values: by['4xx'] || new Array(n).fill(0)},
            {key: '5xx', label: '5xx', values: by['5xx'] || new Array(n).fill(0)}], '/s'),
          h.p95 ? el('div', {class: 'muted'}, `p95 latency ${rate(([...h.p95].reverse().find((v) => v !== null) || 0) * 1000)} ms`) : null);
      });
      fill($('#flow-http', this.root), ...(http.length ? http : [el('p', {class: 'muted'}, 'No requests yet.')]));
    },
  };

  // Filters of the dead-letter view, as in the URL and the API query.
  const DL_FIELDS = ['type', 'handler', 'reason', 'since', 'until'];

  function localToIso(value) { return value ? new Date(value).toISOString() : ''; }
  function isoToLocal(value) {
    if (!value) return '';
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) return '';
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  views['dead-letters'] = {
    title: 'Dead letters',
    render(root, r) {
      this.root = root;
      this.filter = {};
      for (const k of DL_FIELDS) if (r.params.get(k)) this.filter[k] = r.params.get(k);
      this.page = null;  // null = newest; else the API path of the page
      this.selected = null;
      const field = (name, label, type) => el('label', {}, label,
        el('input', {type: type || 'text', name, id: `dl-${name}`,
          value: type === 'datetime-local' ? isoToLocal(this.filter[name]) : (this.filter[name] || '')}));
      const form = el('form', {class: 'filters', id: 'dl-filters', onsubmit: (e) => { e.preventDefault(); this.apply().catch(report); }},
        field('type', 'Type'), field('handler', 'Handler'), field('reason', 'Reason contains'),
        field('since', 'Failed since', 'datetime-local'), field('until', 'Failed until', 'datetime-local'),
        el('button', {type: 'submit', class: 'primary'}, 'Apply'),
        el('button', {type: 'button', onclick: () => { for (const k of DL_FIELDS) $(`#dl-${k}`, root).value = ''; this.apply().catch(report); }}, 'Clear'));
      fill(root, el('h1', {}, 'Dead letters'), form,
        el('div', {class: 'toolbar'},
          el('span', {id: 'dl-count', 'aria-live': 'polite'}), el('span', {class: 'grow'}),
          el('button', {type: 'button', id: 'dl-retry-all', onclick: () => this.bulk('retry').catch(report)}, 'Retry all matching…'),
          el('button', {type: 'button', id: 'dl-discard-all', class: 'danger', onclick: () => this.bulk('discard').catch(report)}, 'Discard all matching…')),
        el('div', {id: 'dl-list'}),
        el('div', {class: 'toolbar'},
          el('button', {type: 'button', id: 'dl-newest', onclick: () => { this.page = null; this.refresh().catch(report); }}, 'Newest'),
          el('button', {type: 'button', id: 'dl-older', onclick: () => { this.page = this.next; this.refresh().catch(report); }}, 'Older →')),
        el('div', {id: 'dl-detail'}));
      return this.refresh();
    },
    apply() {
      this.filter = {};
      for (const k of DL_FIELDS) {
        const v = $(`#dl-${k}`, this.root).value;
        if (v) this.filter[k] = k === 'since' || k === 'until' ? localToIso(v) : v;
      }
      this.page = null;
      const q = new URLSearchParams(this.filter).toString();
      history.replaceState(null, '', `#/dead-letters${q ? `?${q}` : ''}`);
      return this.refresh();
    },
    query() { return new URLSearchParams(this.filter).toString(); },
    async refresh() {
      const path = this.page || `/admin/dead-letters?${this.query()}&limit=50`;
      const {body, headers} = await api(path);
      this.count = Number(headers.get('X-Total-Count') || body.length);
      this.next = nextLink(headers);
      $('#dl-count', this.root).textContent = `${this.count} dead letter${this.count === 1 ? '' : 's'} match`;
      $('#dl-retry-all', this.root).textContent = `Retry all ${this.count}…`;
      $('#dl-discard-all', this.root).textContent = `Discard all ${this.count}…`;
      $('#dl-retry-all', this.root).disabled = this.count === 0;
      $('#dl-discard-all', this.root).disabled = this.count === 0;
      $('#dl-older', this.root).disabled = !this.next;
      $('#dl-newest', this.root).disabled = !this.page;
      const rows = body.map((d) => el('tr', {'data-id': d.id, class: this.selected === d.id ? 'selected' : null},
        el('td', {}, when(d.lastFailedAt)), el('td', {class: 'wrap'}, d.type), el('td', {class: 'wrap mono'}, d.handler),
        el('td', {class: 'wrap'}, d.reason), el('td', {class: 'num hide-narrow'}, d.attempts),
        el('td', {class: 'hide-narrow'}, el('a', {href: `#/streams/${encodeURIComponent(d.stream)}`, class: 'mono'}, short(d.stream))),
        el('td', {}, el('button', {type: 'button', class: 'link', 'aria-label': `Details of dead letter ${d.id}`,
          onclick: () => this.show(d.id).catch(report)}, 'Details'))));
      fill($('#dl-list', this.root), body.length
        ? table('Dead letters, newest first', ['Last failed', 'Type', 'Handler', 'Reason', {text: 'Attempts', cls: 'num hide-narrow'}, {text: 'Stream', cls: 'hide-narrow'}, ''], rows, {id: 'dl-table'})
        : el('p', {class: 'muted', id: 'dl-empty'}, 'No dead letters match.'));
      if (this.selected && !body.some((d) => d.id === this.selected)) this.showGone();
    },
    async show(id) {
      this.selected = id;
      const {body: d} = await api(`/admin/dead-letters/${encodeURIComponent(id)}`);
      const env = d.message || {};
      const detail = el('div', {class: 'panel', id: 'dl-selected', 'data-id': d.id, tabindex: '-1'},
        el('h2', {}, `Dead letter ${short(d.id)}`),
        el('dl', {class: 'meta'},
          el('dt', {}, 'Id'), el('dd', {class: 'mono'}, d.id),
          el('dt', {}, 'Message'), el('dd', {class: 'mono'}, d.messageId),
          el('dt', {}, 'Type'), el('dd', {}, `${env.kind || ''} ${d.type}`),
          el('dt', {}, 'Handler'), el('dd', {class: 'mono'}, d.handler),
          el('dt', {}, 'Reason'), el('dd', {}, d.reason),
          el('dt', {}, 'Attempts'), el('dd', {}, `${d.attempts} (first failed ${when(d.firstFailedAt)}, last ${when(d.lastFailedAt)})`),
          el('dt', {}, 'Stream'), el('dd', {}, el('a', {href: `#/streams/${encodeURIComponent(d.stream)}`, class: 'mono', id: 'dl-open-stream'}, d.stream)),
          el('dt', {}, 'Correlation'), el('dd', {class: 'mono'}, env.correlation ? el('a', {href: `#/streams?correlation=${encodeURIComponent(env.correlation)}`}, env.correlation) : '–'),
          el('dt', {}, 'Causation'), el('dd', {class: 'mono'}, env.causation ? el('a', {href: `#/streams?message=${encodeURIComponent(env.causation)}`}, env.causation) : '–'),
          el('dt', {}, 'Trace id'), el('dd', {class: 'mono'}, env.traceparent ? env.traceparent.slice(3, 35) : '–'),
          el('dt', {}, 'Source'), el('dd', {}, env.source ? `${env.source.service} (${env.source.instance})` : '–')),
        el('h3', {}, 'Payload'), el('pre', {}, pretty(env.payload)),
        el('div', {class: 'toolbar'},
          el('button', {type: 'button', class: 'primary', id: 'dl-retry-one', onclick: () => this.retryOne(d.id).catch(report)}, 'Retry'),
          el('button', {type: 'button', class: 'danger', id: 'dl-discard-one', onclick: () => this.discardOne(d.id).catch(report)}, 'Discard…')));
      fill($('#dl-detail', this.root), detail);
      for (const tr of this.root.querySelectorAll('#dl-table tbody tr')) tr.classList.toggle('selected', tr.dataset.id === id);
      detail.focus();
    },
    showGone() {
      const panel = $('#dl-selected', this.root);
      if (panel) fill(panel, el('p', {class: 'muted'}, `Dead letter ${short(this.selected)} is no longer stored here.`));
      this.selected = null;
    },
    async retryOne(id) {
      try {
        await api(`/admin/dead-letters/${encodeURIComponent(id)}/retry`, {method: 'POST', body: {}});
        status(`Dead letter ${short(id)} requeued: its handler gets the message again.`);
        this.showGone();
      } catch (e) { if (e.status !== 401) status(`Retry failed: ${e.message}`, true); }
      await this.refresh().catch((e) => status(`Dead letters: ${e.message}`, true));
    },
    async discardOne(id) {
      if (!await confirmAction('Discard this dead letter?', `Dead letter ${id} is deleted for good; its message is not handled.`, 'Discard 1')) return;
      try {
        await api(`/admin/dead-letters/${encodeURIComponent(id)}`, {method: 'DELETE'});
        status(`Dead letter ${short(id)} discarded.`);
        this.showGone();
      } catch (e) { if (e.status !== 401) status(`Discard failed: ${e.message}`, true); }
      await this.refresh().catch((e) => status(`Dead letters: ${e.message}`, true));
    },
    async bulk(action) {
      const count = this.count;
      const described = Object.entries(this.filter).map(([k, v]) => `${k} = ${v}`).join(', ') || 'no filter: every dead letter';
      const verb = action === 'retry' ? 'Retry' : 'Discard';
      const ok = await confirmAction(`${verb} ${count} dead letter${count === 1 ? '' : 's'}?`,
        `${action === 'retry' ? 'Each goes back to its handler' : 'Each is deleted for good'} (${described}).`, `${verb} ${count}`);
      if (!ok) return;
      try {
        const {body} = await api(`/admin/dead-letters/${action}`, {method: 'POST', body: {filter: this.filter, expectedCount: count}});
        const done = action === 'retry' ? body.retried : body.discarded;
        status(`${action === 'retry' ? 'Retried' : 'Discarded'} ${done} of ${body.matched} dead letters${body.skipped.length ? ` (${body.skipped.length} skipped)` : ''}.`);
      } catch (e) {
        if (e.status === 409) status(`Nothing done: the selection changed (${e.body.count} match now, not ${count}). Check the list and confirm again.`, true);
        else if (e.status !== 401) status(`${verb} failed: ${e.message}`, true);
      }
      this.page = null;
      await this.refresh().catch((e) => status(`Dead letters: ${e.message}`, true));
    },
  };

  // Asks in a modal dialog; resolves true when confirmed.
  function confirmAction(title, text, okLabel) {
    const dialog = $('#confirm');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = okLabel;
    return new Promise((resolve) => {
      const done = (value) => {
        dialog.removeEventListener('close', onClose);
        $('#confirm-ok').onclick = null;
        $('#confirm-cancel').onclick = null;
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const onClose = () => done(false);
      $('#confirm-ok').onclick = () => done(true);
      $('#confirm-cancel').onclick = () => done(false);
      dialog.addEventListener('close', onClose);
      dialog.showModal();
      $('#confirm-cancel').focus();
    });
  }

  // Where a stream lookup goes: this host, or this host and every peer (merged by time).
  async function fromSources(path, across) {
    const sources = [{name: state.self ? state.self.service : 'this host', prefix: '/admin'}];
    if (across && state.peers) {
      for (const p of state.peers.peers) sources.push({name: p.name, prefix: `/admin/peers/${p.index}`, peer: true});
    }
    const results = await Promise.all(sources.map(async (s) => {
      try {
        const r = await api(`${s.prefix}${path}`, {timeoutMs: s.peer ? state.peers.timeoutMs + 3000 : REQUEST_TIMEOUT_MS});
        return {source: s, body: r.body, headers: r.headers};
      } catch (e) {
        return {source: s, error: e};
      }
    }));
    return results;
  }

  views.streams = {
    title: 'Streams',
    async render(root, r) {
      this.root = root;
      if (!state.peers) state.peers = (await api('/admin/peers')).body;
      const across = r.params.get('across') === '1';
      const input = el('input', {type: 'search', id: 'stream-id', value: r.arg || '', placeholder: 'an order id, say', required: true});
      const acrossBox = state.peers.peers.length
        ? el('label', {}, el('input', {type: 'checkbox', id: 'stream-across', checked: across}), ' across the system (every peer)') : null;
      const form = el('form', {class: 'filters', onsubmit: (e) => {
        e.preventDefault();
        const id = input.value.trim();
        if (!id) return;
        const box = $('#stream-across', root);
        location.hash = `#/streams/${encodeURIComponent(id)}${box && box.checked ? '?across=1' : ''}`;
      }}, el('label', {for: 'stream-id'}, 'Stream id', input), acrossBox, el('button', {type: 'submit', class: 'primary'}, 'Look up'));
      fill(root, el('h1', {}, 'Streams'), form, el('div', {id: 'stream-result'}));
      this.arg = r.arg;
      this.across = across;
      this.correlation = r.params.get('correlation');
      this.message = r.params.get('message');
      return this.refresh();
    },
    async refresh() {
      const out = $('#stream-result', this.root);
      if (this.message) return this.showMessage(out, this.message);
      if (this.correlation) return this.showCorrelation(out, this.correlation);
      if (!this.arg) {
        fill(out, el('p', {class: 'muted'}, 'Enter a stream id to see its events in order, with their correlation, causation and trace ids.'));
        return undefined;
      }
      const results = await fromSources(`/streams/${encodeURIComponent(this.arg)}?limit=500`, this.across);
      const events = [];
      const problems = [];
      for (const r of results) {
        if (r.error) problems.push(`${r.source.name}: ${r.error.message}`);
        else for (const e of r.body) events.push({...e, service: r.source.name});
        if (!r.error && nextLink(r.headers)) problems.push(`${r.source.name}: more than 500 events, showing the first 500`);
      }
      events.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.version - b.version));
      fill(out, 
        el('h2', {}, `Stream `, el('span', {class: 'mono'}, this.arg), ` · ${events.length} event${events.length === 1 ? '' : 's'}`),
        problems.length ? el('ul', {class: 'error'}, problems.map((p) => el('li', {}, p))) : null,
        events.length ? this.eventTable(events) : el('p', {class: 'muted', id: 'stream-empty'}, 'No events in this stream here.'));
      return undefined;
    },
    eventTable(events) {
      const showService = this.across;
      const rows = events.map((e) => el('tr', {'data-message': e.messageId, 'data-type': e.type},
        el('td', {class: 'num'}, e.version), el('td', {}, e.type),
        showService ? el('td', {}, e.service) : null,
        el('td', {}, when(e.createdAt)),
        el('td', {class: 'mono'}, el('span', {title: e.messageId}, short(e.messageId))),
        el('td', {class: 'mono'}, e.correlation ? el('a', {href: `#/streams?correlation=${encodeURIComponent(e.correlation)}`, title: e.correlation, class: 'corr'}, short(e.correlation)) : (e.metadata === 'purged' ? 'purged' : '–')),
        el('td', {class: 'mono'}, e.causation ? el('a', {href: `#/streams?message=${encodeURIComponent(e.causation)}`, title: e.causation, class: 'cause'}, short(e.causation)) : '–'),
        el('td', {class: 'mono trace'}, e.traceId || '–'),
        el('td', {}, el('details', {}, el('summary', {}, 'payload'), el('pre', {}, pretty(e.payload))))));
      return table('Events of the stream, oldest first',
        ['#', 'Type', showService ? 'Service' : null, 'Time', 'Message', 'Correlation', 'Causation', 'Trace id', 'Payload'].filter((h) => h !== null),
        rows, {id: 'stream-table'});
    },
    async showMessage(out, id) {
      const results = await fromSources(`/messages/${encodeURIComponent(id)}`, true);
      const found = results.filter((r) => !r.error);
      fill(out, el('h2', {}, 'Message ', el('span', {class: 'mono'}, id)),
        found.length ? found.map((r) => {
          const m = r.body;
          return el('div', {class: 'panel', id: 'message-detail'},
            el('dl', {class: 'meta'},
              el('dt', {}, 'Found at'), el('dd', {}, r.source.name),
              el('dt', {}, 'Kind'), el('dd', {}, `${m.kind} ${m.type}`),
              el('dt', {}, 'Stream'), el('dd', {}, el('a', {href: `#/streams/${encodeURIComponent(m.stream)}`, class: 'mono'}, m.stream), m.version ? ` (version ${m.version})` : ''),
              el('dt', {}, 'Time'), el('dd', {}, when(m.createdAt)),
              el('dt', {}, 'Correlation'), el('dd', {class: 'mono'}, m.correlation ? el('a', {href: `#/streams?correlation=${encodeURIComponent(m.correlation)}`}, m.correlation) : '–'),
              el('dt', {}, 'Causation'), el('dd', {class: 'mono'}, m.causation ? el('a', {href: `#/streams?message=${encodeURIComponent(m.causation)}`}, m.causation) : '–'),
              el('dt', {}, 'Trace id'), el('dd', {class: 'mono'}, m.traceId || '–')),
            el('pre', {}, pretty(m.payload)));
        }) : el('p', {class: 'muted'}, 'No host has this message (its outbox row may be past retention).'));
    },
    async showCorrelation(out, id) {
      const results = await fromSources(`/messages?correlation=${encodeURIComponent(id)}`, true);
      const messages = [];
      for (const r of results) if (!r.error) for (const m of r.body) messages.push({...m, service: r.source.name});
      messages.sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
      fill(out, el('h2', {}, 'Correlation ', el('span', {class: 'mono'}, id), ` · ${messages.length} message${messages.length === 1 ? '' : 's'}`),
        table('Messages of the correlation, oldest first', ['Time', 'Service', 'Kind', 'Type', 'Stream', 'Causation'],
          messages.map((m) => el('tr', {},
            el('td', {}, when(m.createdAt)), el('td', {}, m.service), el('td', {}, m.kind), el('td', {}, m.type),
            el('td', {class: 'mono'}, el('a', {href: `#/streams/${encodeURIComponent(m.stream)}`}, short(m.stream))),
            el('td', {class: 'mono'}, m.causation ? el('a', {href: `#/streams?message=${encodeURIComponent(m.causation)}`}, short(m.causation)) : '–')))));
    },
  };

  views.system = {
    title: 'System',
    async render(root) {
      this.root = root;
      state.peers = (await api('/admin/peers')).body;
      this.cards = new Map();
      const grid = el('div', {class: 'cards', id: 'peers'});
      for (const p of state.peers.peers) {
        const c = el('div', {class: 'card peer', 'data-peer': p.name, 'data-state': 'waiting'},
          el('h3', {}, p.name), el('div', {class: 'muted mono wrap'}, p.url), el('div', {class: 'peer-body'}, pill('waiting…')));
        this.cards.set(p.index, c);
        grid.append(c);
      }
      fill(root, el('h1', {}, 'System'),
        state.peers.peers.length
          ? el('p', {class: 'muted'}, `${state.peers.peers.length} hosts from console.peers, each asked through this host with your token (${state.peers.timeoutMs} ms timeout). A host that does not answer is marked; the others still show.`)
          : el('p', {}, 'No peers configured. List the other hosts of the system in ', el('code', {}, 'console.peers'), ' (see docs/console.md) to see them here.'),
        grid);
      this.refresh();
      return undefined;
    },
    // Every peer on its own: a slow one never holds the others back.
    refresh() {
      for (const p of state.peers.peers) this.refreshPeer(p);
      return undefined;
    },
    async refreshPeer(p) {
      const c = this.cards.get(p.index);
      if (!c || c.dataset.busy) return;
      c.dataset.busy = '1';
      const body = $('.peer-body', c);
      try {
        const {body: o} = await api(`/admin/peers/${p.index}/overview`, {timeoutMs: state.peers.timeoutMs + 3000});
        const self = state.self && o.instance === state.self.instance;
        const per = (o.flow && o.flow.perSecond) || {};
        c.dataset.state = o.ready ? 'ready' : 'not-ready';
        fill(body, 
          el('div', {}, pill(o.ready ? 'ready' : 'not ready', o.ready ? 'ok' : 'warn'), self ? ' (this host)' : ''),
          el('dl', {class: 'meta'},
            el('dt', {}, 'Service'), el('dd', {}, `${o.service} ${o.version}`),
            el('dt', {}, 'Uptime'), el('dd', {}, duration(o.uptimeSeconds)),
            el('dt', {}, 'Broker'), el('dd', {}, o.broker.state || o.broker.transport),
            el('dt', {}, 'Handled'), el('dd', {}, `${rate(per.handled)}/s`),
            el('dt', {}, 'Failed'), el('dd', {}, `${rate(per.failed)}/s`),
            el('dt', {}, 'Dead letters'), el('dd', {class: 'dead'}, String(o.deadLetters ?? '–')),
            el('dt', {}, 'Plugins'), el('dd', {}, String(o.plugins))),
          o.ready ? null : el('ul', {class: 'error'}, ((o.readiness && o.readiness.reasons) || []).map((r) => el('li', {}, r))));
      } catch (e) {
        if (e.status === 401) return;
        const kind = e.body && e.body.timeout ? 'timeout' : e.body && e.body.unauthorized ? 'refused' : 'unreachable';
        c.dataset.state = kind;
        fill(body, el('div', {}, pill(kind === 'timeout' ? 'no answer in time' : kind === 'refused' ? 'refused the token' : 'unreachable', 'bad')),
          el('p', {class: 'wrap'}, e.message), el('p', {class: 'muted'}, `checked ${new Date().toLocaleTimeString()}`));
      } finally {
        delete c.dataset.busy;
      }
    },
  };

  // ---- routing and live refresh ----

  function parseRoute() {
    const hash = location.hash.replace(/^#\/?/, '');
    const [pathPart, query] = hash.split('?');
    const [name, ...rest] = pathPart.split('/');
    return {name: views[name] ? name : 'overview', arg: rest.length ? decodeURIComponent(rest.join('/')) : '', params: new URLSearchParams(query || '')};
  }

  async function route() {
    const r = parseRoute();
    state.route = r;
    state.view = views[r.name];
    for (const a of document.querySelectorAll('nav a')) {
      if (a.dataset.view === r.name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    status('');
    const root = $('#view');
    root.dataset.view = r.name;
    fill(root, el('p', {class: 'muted'}, 'Loading…'));
    try {
      await state.view.render(root, r);
      stamp();
    } catch (e) {
      if (e.status !== 401 && e.status !== 403) status(`${state.view.title}: ${e.message}`, true);
    }
  }

  function stamp() { $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`; }

  async function tick() {
    const live = $('#live').checked;
    if (!live || document.hidden || $('#confirm').open || !$('#login').hidden || !state.view || !state.view.refresh) return;
    try {
      await state.view.refresh();
      stamp();
    } catch (e) {
      if (e.status !== 401 && e.status !== 403) status(`${state.view.title}: ${e.message}`, true);
    }
  }

  function start() {
    $('#login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      signIn($('#token').value);
    });
    $('#signout').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = '';
      showLogin('Signed out.');
    });
    window.addEventListener('hashchange', route);
    state.timer = setInterval(tick, REFRESH_MS);
    loadSelf().then(() => { hideLogin(); route(); }, (e) => {
      if (e.status !== 401 && e.status !== 403) { hideLogin(); route(); }
    });
  }

  start();
})();
