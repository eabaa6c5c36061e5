// Slipway dashboard: one page, no framework. Reads the JSON API and the /v1/stream
// server-sent events; every change goes through the same POST routes as the CLI.
'use strict';
(function () {
  const ROLE_RANK = { viewer: 0, deployer: 1, approver: 2, admin: 3 };
  const COLORS = ['#1c6dd0', '#e8590c', '#2b8a3e', '#862e9c', '#c92a2a', '#5c940d', '#0b7285'];
  const CHART_SECONDS = 120;
  const ACTIONS = [
    { name: 'promote', role: 'deployer', when: (r) => r && ['progressing', 'paused', 'previewing'].includes(r.phase) },
    { name: 'pause', role: 'deployer', when: (r) => r && r.phase === 'progressing' && r.canary },
    { name: 'resume', role: 'deployer', when: (r) => r && r.phase === 'paused' },
    { name: 'abort', role: 'deployer', confirm: true, when: (r) => r && !['succeeded', 'failed'].includes(r.phase) },
    { name: 'rollback', role: 'deployer', confirm: true, when: (r, u) => !!(u.previousVersion || r) },
    { name: 'approve', role: 'approver', when: (r) => r && r.phase === 'awaiting_approval' },
    { name: 'reject', role: 'approver', confirm: true, when: (r) => r && r.phase === 'awaiting_approval' },
  ];

  const state = { csrf: '', principal: null, source: null, cards: new Map(), layout: '', series: new Map(), colors: new Map(), retry: null };
  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-') || k === 'title' || k === 'colspan') e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  // A unit in a path: `web@production` keeps its `@` (a valid path character), as the CLI sends it.
  function unitPath(name) { return encodeURIComponent(name).replace(/%40/g, '@'); }

  function showError(message) {
    const box = $('error');
    box.textContent = message || '';
    box.hidden = !message;
  }

  function showNotice(message) {
    const box = $('notice');
    box.textContent = message || '';
    box.hidden = !message;
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers['X-Slipway-CSRF'] = state.csrf;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!r.ok) {
      const message = data && data.error && data.error.message ? data.error.message : (text || r.statusText);
      const error = new Error(`${method} ${path}: ${r.status} ${message}`);
      error.status = r.status;
      throw error;
    }
    return data;
  }

  // ---- session ----

  async function start() {
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', onLogout);
    $('why-close').addEventListener('click', () => { $('why-panel').hidden = true; });
    try {
      enter(await api('GET', '/dashboard/session'));
    } catch (e) {
      showLogin();
      if (e.status !== 401) showError(e.message);
    }
  }

  function showLogin() {
    if (state.source) state.source.close();
    state.source = null;
    state.csrf = '';
    $('login').hidden = false;
    $('app').hidden = true;
    $('logout').hidden = true;
    $('who').textContent = '';
    setLive(false, 'logged out');
    document.body.dataset.state = 'login';
    $('token').focus();
  }

  async function onLogin(event) {
    event.preventDefault();
    showError('');
    const token = $('token').value.trim();
    if (!token) { showError('Enter an API token.'); return; }
    try {
      const session = await api('POST', '/dashboard/login', { token });
      $('token').value = '';
      enter(session);
    } catch (e) {
      showError(e.message);
    }
  }

  async function onLogout() {
    try { await api('POST', '/dashboard/logout'); } catch (e) { /* the cookie is cleared either way */ }
    showLogin();
  }

  function enter(session) {
    state.principal = session.principal;
    state.csrf = session.csrf;
    const p = session.principal;
    $('who').textContent = `${p.name} · ${p.role}` + (p.environments && p.environments.length ? ` (${p.environments.join(', ')})` : '');
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    document.body.dataset.state = 'app';
    document.body.dataset.role = p.role;
    // Cards from an earlier session show this principal's buttons at once, not at the next snapshot.
    for (const card of state.cards.values()) { if (card.unit) updateActions(card, card.unit); }
    connect();
    loadReport();
  }

  function setLive(on, text) {
    const live = $('live');
    live.textContent = text || (on ? 'live' : 'reconnecting…');
    live.classList.toggle('off', !on);
  }

  function connect() {
    if (state.source) state.source.close();
    const source = new EventSource('/v1/stream');
    state.source = source;
    source.addEventListener('snapshot', (event) => {
      setLive(true);
      try { onSnapshot(JSON.parse(event.data)); } catch (e) { showError('The dashboard could not show a snapshot: ' + e.message); }
    });
    source.addEventListener('phase', (event) => {
      try {
        const change = JSON.parse(event.data);
        const card = state.cards.get(change.unit);
        if (card) card.historyKey = '';
        // A rollout that ended changes the delivery numbers.
        if (['succeeded', 'failed'].includes(change.phase)) loadReport();
      } catch (e) { /* the next snapshot refreshes the history anyway */ }
    });
    source.onerror = () => {
      setLive(false);
      if (source.readyState === EventSource.CLOSED) {
        // Refused (expired or revoked token) or the server went away: find out which.
        clearTimeout(state.retry);
        state.retry = setTimeout(async () => {
          try { await api('GET', '/dashboard/session'); connect(); } catch (e) { if (e.status === 401) { showLogin(); showError(e.message); } else { connect(); } }
        }, 2000);
      }
    };
  }

  // ---- snapshot → page ----

  function colorOf(version) {
    if (!state.colors.has(version)) state.colors.set(version, COLORS[state.colors.size % COLORS.length]);
    return state.colors.get(version);
  }

  function onSnapshot(snap) {
    showNotice(snap.errors && snap.errors.length ? snap.errors.join('\n') : '');
    document.body.dataset.sequence = String(snap.sequence);
    record(snap);
    const services = [];
    const envs = [];
    for (const u of snap.units) {
      if (!services.includes(u.service)) services.push(u.service);
      const env = u.environment || '';
      if (!envs.includes(env)) envs.push(env);
    }
    $('empty').hidden = snap.units.length > 0;
    const layout = JSON.stringify([services, envs]);
    if (layout !== state.layout) buildGrid(services, envs, snap.units);
    state.layout = layout;
    for (const u of snap.units) updateCard(state.cards.get(u.name), u);
  }

  function buildGrid(services, envs, units) {
    const grid = $('grid');
    grid.textContent = '';
    grid.style.gridTemplateColumns = `120px repeat(${envs.length}, minmax(360px, 1fr))`;
    grid.append(el('div'));
    for (const env of envs) grid.append(el('div', { class: 'env-head', text: env || 'service' }));
    const old = state.cards;
    state.cards = new Map();
    for (const service of services) {
      grid.append(el('div', { class: 'service-name', text: service }));
      for (const env of envs) {
        const unit = units.find((u) => u.service === service && (u.environment || '') === env);
        if (!unit) { grid.append(el('div', { class: 'unit none', text: 'not in this environment' })); continue; }
        const card = old.get(unit.name) || makeCard(unit);
        state.cards.set(unit.name, card);
        grid.append(card.root);
      }
    }
  }

  function makeCard(unit) {
    const card = { name: unit.name, unit, historyKey: '', history: [] };
    card.phase = el('span', { class: 'phase' });
    card.step = el('p', { class: 'step' });
    card.latest = el('p', { class: 'latest' });
    card.bar = el('div', { class: 'bar' });
    card.versions = el('tbody');
    card.charts = [
      { metric: 'rate', label: 'requests/s', format: (v) => v.toFixed(1) },
      { metric: 'errors', label: 'error rate %', format: (v) => v.toFixed(1) },
      { metric: 'p95', label: 'p95 latency ms', format: (v) => v.toFixed(0) },
    ].map((c) => Object.assign(c, { canvas: el('canvas', { width: 300, height: 80 }) }));
    card.actions = el('div', { class: 'actions' });
    card.msg = el('p', { class: 'msg' });
    card.checks = el('p', { class: 'checks' });
    card.historyBody = el('tbody');
    card.root = el('article', { class: 'unit', 'data-unit': unit.name },
      el('header', {}, el('h2', { text: unit.environment ? `${unit.service}@${unit.environment}` : unit.service }), card.phase),
      card.step, card.bar,
      el('table', { class: 'versions' },
        el('thead', {}, el('tr', {}, ...['version', 'role', 'weight', 'instances', 'req/s', 'errors', 'p50 / p95 / p99 ms'].map((h) => el('th', { text: h })))),
        card.versions),
      el('div', { class: 'charts' }, ...card.charts.map((c) => el('figure', {}, el('figcaption', { text: c.label }), c.canvas))),
      card.actions, card.msg, card.latest, card.checks,
      el('details', { open: true }, el('summary', { text: 'Rollout history (click a rollout for its decisions)' }),
        el('table', { class: 'history' },
          el('thead', {}, el('tr', {}, ...['#', 'kind', 'versions', 'phase', 'started', 'by / reason'].map((h) => el('th', { text: h })))),
          card.historyBody)));
    for (const action of ACTIONS) {
      const button = el('button', { type: 'button', text: action.name, 'data-action': action.name });
      button.addEventListener('click', () => onAction(card, action, button));
      card[`button_${action.name}`] = button;
    }
    return card;
  }

  // The post-deploy checks (`verify:`) of the latest rollout that scheduled any: one badge
  // per offset, its outcome and what followed in the tooltip.
  function updateChecks(card, checks) {
    card.checks.textContent = '';
    card.checks.hidden = checks.length === 0;
    if (!checks.length) return;
    card.checks.append(`checks of ${checks[0].version} (rollout #${checks[0].rolloutID}): `);
    for (const c of checks) {
      const when = c.status === 'pending' ? ` · due ${time(c.dueAt)}` : '';
      const tip = [c.summary, c.action].filter(Boolean).join(' · ') || (c.status === 'pending' ? `due at ${new Date(c.dueAt * 1000).toLocaleString()}` : c.status);
      card.checks.append(el('span', { class: `check c-${c.status}`, 'data-status': c.status, title: tip, text: `T+${offset(c.afterSeconds)} ${c.status}${when}` }));
    }
  }

  // An offset as config writes it: 30m, 2h, 1d, 90s.
  function offset(seconds) {
    const s = Math.round(seconds);
    for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) if (s >= size && s % size === 0) return `${s / size}${unit}`;
    return `${s}s`;
  }

  function pct(v) { return v === null || v === undefined ? '–' : (v * 100).toFixed(1) + ' %'; }
  function ms(v) { return v === null || v === undefined ? '–' : v.toFixed(v < 10 ? 1 : 0); }
  function time(t) { return t ? new Date(t * 1000).toLocaleTimeString() : ''; }
  function label(s) { return s.replace(/_/g, ' '); }

  function updateCard(card, u) {
    if (!card) return;
    card.unit = u;
    const r = u.activeRollout;
    const canary = u.versions.find((v) => v.role === 'canary');
    card.root.dataset.state = u.state;
    card.root.dataset.stable = u.stableVersion || '';
    card.root.dataset.canaryWeight = canary ? String(canary.weight) : '0';
    card.phase.textContent = label(u.state);
    card.phase.className = `phase s-${u.state}`;

    let step = '';
    if (r) {
      step = `${r.kind} of ${r.toVersion}` + (r.fromVersion ? ` from ${r.fromVersion}` : '');
      if (r.canary) {
        const c = r.canary;
        step += ` · step ${Math.min(c.step, c.steps)}/${c.steps}` + (c.stepLabel ? ` (${c.stepLabel})` : ' (all steps done)') + ` · canary ${c.weight} %`;
        if (c.pauseReason) step += ` · paused: ${c.pauseReason}`;
        if (c.lastAnalysis) step += ` · analysis: ${c.lastAnalysis}`;
      }
      if (r.rolling) step += ` · ${r.rolling}`;
      if (r.waves) step += ` · ${r.waves}`;
      if (r.approval) step += ' · waiting for approval';
    } else {
      step = u.stableVersion ? `stable ${u.stableVersion}` + (u.previousVersion ? ` · previous ${u.previousVersion}` : '') : 'nothing deployed yet';
    }
    card.step.textContent = step;
    const last = u.latestRollout;
    card.latest.textContent = last && !r
      ? `latest: #${last.id} ${last.kind} of ${last.toVersion}` + (last.fromVersion ? ` from ${last.fromVersion}` : '') + ` ${label(last.phase)}` + (last.reason ? `: ${last.reason}` : '')
      : '';

    updateChecks(card, u.verifications || []);

    card.bar.textContent = '';
    for (const v of u.versions.filter((x) => x.weight > 0)) {
      const seg = el('span', { class: 'seg', text: `${v.version} ${v.weight} %`, title: `${v.version} (${v.role}) ${v.weight} %` });
      seg.style.width = `${v.weight}%`;
      seg.style.background = colorOf(v.version);
      card.bar.append(seg);
    }

    card.versions.textContent = '';
    for (const v of u.versions) {
      const dots = el('td', {});
      for (const i of v.instances) {
        dots.append(el('span', { class: 'dot' + (i.healthy === true ? ' up' : i.healthy === false ? ' down' : ''), title: `${i.id}` + (i.server ? ` on ${i.server}` : '') + ` ${i.state}` + (i.lastHealthError ? `: ${i.lastHealthError}` : '') }));
      }
      if (!v.instances.length) dots.append('none');
      const swatch = el('span', { class: 'swatch' });
      swatch.style.background = colorOf(v.version);
      const name = el('td', { title: v.artifact || '' }, swatch, v.version);
      if (v.digest) name.append(el('span', { class: 'digest', text: v.digest }));
      card.versions.append(el('tr', { 'data-version': v.version },
        name, el('td', { text: v.role }), el('td', { class: 'num', text: `${v.weight} %` }), dots,
        el('td', { class: 'num', text: v.requestRate.toFixed(1) }), el('td', { class: 'num', text: pct(v.errorRate) }),
        el('td', { class: 'num', text: `${ms(v.latencyP50Ms)} / ${ms(v.latencyP95Ms)} / ${ms(v.latencyP99Ms)}` })));
    }

    for (const chart of card.charts) drawChart(chart, u);
    updateActions(card, u);
    const key = last ? `${last.id}:${last.phase}` : 'none';
    if (key !== card.historyKey) { card.historyKey = key; loadHistory(card); }
  }

  function allowed(role, environment) {
    const p = state.principal;
    if (!p || ROLE_RANK[p.role] < ROLE_RANK[role]) return false;
    return !p.environments || p.environments.length === 0 || (environment && p.environments.includes(environment));
  }

  function updateActions(card, u) {
    const shown = ACTIONS.filter((a) => allowed(a.role, u.environment));
    const names = shown.map((a) => a.name).join(',');
    if (card.actions.dataset.names !== names) {
      card.actions.textContent = '';
      for (const a of shown) card.actions.append(card[`button_${a.name}`]);
      card.actions.dataset.names = names;
    }
    for (const a of shown) card[`button_${a.name}`].disabled = !a.when(u.activeRollout, u) || card.busy === true;
  }

  async function onAction(card, action, button) {
    if (action.confirm && !button.classList.contains('confirm')) {
      button.classList.add('confirm');
      button.textContent = `confirm ${action.name}?`;
      setTimeout(() => { button.classList.remove('confirm'); button.textContent = action.name; }, 4000);
      return;
    }
    button.classList.remove('confirm');
    button.textContent = action.name;
    card.busy = true;
    card.msg.className = 'msg';
    card.msg.textContent = `${action.name}…`;
    try {
      const body = action.name === 'approve' || action.name === 'reject' ? {} : action.name === 'rollback' ? {} : { by: 'dashboard' };
      const r = await api('POST', `/v1/services/${unitPath(card.name)}/${action.name}`, body);
      card.msg.textContent = `${action.name}: done` + (r && r.id ? ` (rollout #${r.id}, ${label(r.phase)})` : '');
      card.historyKey = '';
    } catch (e) {
      card.msg.className = 'msg bad';
      card.msg.textContent = e.message;
      if (e.status === 401) { showLogin(); showError(e.message); }
    } finally {
      card.busy = false;
    }
  }

  // ---- charts ----

  function record(snap) {
    const now = snap.time;
    for (const u of snap.units) {
      for (const v of u.versions) {
        const key = `${u.name}|${v.version}`;
        if (!state.series.has(key)) state.series.set(key, []);
        state.series.get(key).push({ t: now, rate: v.requestRate, errors: v.errorRate === null || v.errorRate === undefined ? null : v.errorRate * 100, p95: v.latencyP95Ms === undefined ? null : v.latencyP95Ms });
      }
    }
    for (const [key, points] of state.series) {
      while (points.length && points[0].t < now - CHART_SECONDS) points.shift();
      if (!points.length) state.series.delete(key);
    }
  }

  function drawChart(chart, u) {
    const canvas = chart.canvas;
    // Draw at the size the page lays the canvas out at (crisp lines and text).
    const shown = Math.round(canvas.getBoundingClientRect().width);
    if (shown > 0 && canvas.width !== shown) canvas.width = shown;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    const lines = [];
    let max = 0, latest = 0;
    for (const [key, points] of state.series) {
      if (!key.startsWith(u.name + '|')) continue;
      const version = key.slice(u.name.length + 1);
      lines.push({ version, points });
      for (const p of points) {
        if (p[chart.metric] !== null) max = Math.max(max, p[chart.metric]);
        latest = Math.max(latest, p.t);
      }
    }
    if (max <= 0) max = chart.metric === 'errors' ? 1 : 1;
    ctx.strokeStyle = '#e1e5ea';
    ctx.lineWidth = 1;
    for (const f of [0.25, 0.5, 0.75]) { ctx.beginPath(); ctx.moveTo(0, h * f); ctx.lineTo(w, h * f); ctx.stroke(); }
    const x = (t) => w - ((latest - t) / CHART_SECONDS) * w;
    const y = (v) => h - 4 - (v / max) * (h - 16);
    for (const line of lines) {
      ctx.strokeStyle = colorOf(line.version);
      ctx.lineWidth = 2;
      ctx.beginPath();
      let pen = false;
      for (const p of line.points) {
        const v = p[chart.metric];
        if (v === null) { pen = false; continue; }
        if (pen) ctx.lineTo(x(p.t), y(v)); else ctx.moveTo(x(p.t), y(v));
        pen = true;
      }
      ctx.stroke();
    }
    ctx.fillStyle = '#66707c';
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText(`max ${chart.format(max)}`, 4, 11);
  }

  // ---- delivery report (the DORA metrics of GET /v1/report) ----

  function span(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    if (seconds < 1) return Math.round(seconds * 1000) + ' ms';
    if (seconds < 60) return seconds.toFixed(1) + ' s';
    const s = Math.round(seconds);
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }

  async function loadReport() {
    try {
      const r = await api('GET', '/v1/report?since=30d');
      const rows = [
        ['deployment_frequency', 'Deployment frequency', `${r.deploymentsPerDay.toFixed(2)} per day`, `${r.succeeded} succeeded`],
        ['lead_time', 'Lead time for changes', span(r.leadTimeMedian), r.leadTimeSamples ? `median, commit to live (${r.leadTimeSamples})` : 'no release has a commit time'],
        ['change_failure_rate', 'Change failure rate', pct(r.changeFailureRate), `${r.changeFailures} of ${r.reachedTraffic} that took traffic`],
        ['time_to_restore', 'Time to restore', span(r.timeToRestoreMedian), r.changeFailures ? 'median' : 'nothing failed'],
        ['success_rate', 'Success rate', pct(r.successRate), `${r.succeeded} of ${r.deployments} deployments`],
        ['rollback_rate', 'Rollback rate', pct(r.rollbackRate), `${r.rollbacks} rollbacks`],
        ['deploy_duration', 'Median deploy duration', span(r.deployDurationMedian), ''],
      ];
      const body = $('report-body');
      body.textContent = '';
      for (const [key, name, value, detail] of rows) {
        body.append(el('tr', { 'data-metric': key }, el('th', { text: name }), el('td', { class: 'num', text: value }), el('td', { class: 'hint', text: detail })));
      }
      $('report-note').textContent = '';
    } catch (e) {
      $('report-note').textContent = e.message;
    }
  }

  // ---- history and decisions ----

  async function loadHistory(card) {
    try {
      const rollouts = await api('GET', `/v1/services/${unitPath(card.name)}/rollouts?limit=10`);
      card.historyBody.textContent = '';
      for (const r of rollouts) {
        const row = el('tr', { class: 'row', 'data-rollout': String(r.id), title: 'show the decisions' },
          el('td', { text: String(r.id) }), el('td', { text: r.kind }),
          el('td', { text: (r.fromVersion ? `${r.fromVersion} → ` : '') + r.toVersion }),
          el('td', { text: label(r.phase) }), el('td', { text: time(r.startedAt) }),
          el('td', { text: [r.requestedBy, r.reason].filter(Boolean).join(' · ') }));
        row.addEventListener('click', () => showWhy(card.name, r.id));
        card.historyBody.append(row);
      }
      if (!rollouts.length) card.historyBody.append(el('tr', {}, el('td', { colspan: '6', text: 'no rollouts yet' })));
    } catch (e) {
      card.historyKey = '';
      card.msg.className = 'msg bad';
      card.msg.textContent = e.message;
    }
  }

  async function showWhy(unit, id) {
    const panel = $('why-panel');
    const list = $('why-list');
    $('why-title').textContent = `${unit}: rollout #${id}`;
    $('why-summary').textContent = 'loading…';
    list.textContent = '';
    panel.hidden = false;
    try {
      const why = await api('GET', `/v1/services/${unitPath(unit)}/why?rollout=${id}`);
      const r = why.rollout;
      $('why-summary').textContent = `${r.kind} of ${r.toVersion}` + (r.fromVersion ? ` from ${r.fromVersion}` : '') + `, ${label(r.phase)}` + (r.reason ? `: ${r.reason}` : '');
      for (const d of why.decisions) {
        const item = el('li', { 'data-kind': d.kind }, el('strong', { text: `${time(d.time)} ${label(d.kind)}` }), ` by ${d.actor}: ${d.summary}`);
        const checks = d.verdict && d.verdict.checks ? d.verdict.checks : [];
        if (checks.length) {
          item.append(el('ul', { class: 'checks' }, ...checks.map((c) => el('li', { class: c.outcome, text: `${c.outcome}: ${c.summary}` }))));
        }
        list.append(item);
      }
      if (!why.decisions.length) list.append(el('li', { text: 'no decisions recorded' }));
    } catch (e) {
      $('why-summary').textContent = e.message;
    }
  }

  window.addEventListener('error', (event) => showError('Dashboard error: ' + event.message));
  window.addEventListener('unhandledrejection', (event) => showError('Dashboard error: ' + (event.reason && event.reason.message ? event.reason.message : event.reason)));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
