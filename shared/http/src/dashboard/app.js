// OSA dashboard: plain JavaScript, no build step, no third-party code. Talks to
// OSA's own API only, with the bearer token kept in this tab's session storage.
'use strict';

(() => {
  const TOKEN_KEY = 'osa.token';
  const TERMINAL = new Set(['completed', 'partial', 'failed', 'timed_out']);
  const AGENT_DONE = new Set(['completed', 'failed', 'timed_out']);
  const INDUSTRIES = [
    'automotive', 'b2b_services', 'consumer', 'ecommerce', 'education', 'energy',
    'financial_services', 'government', 'healthcare', 'hospitality', 'insurance',
    'manufacturing', 'media', 'nonprofit', 'real_estate', 'retail', 'technology',
    'telecommunications', 'travel', 'other',
  ];
  const KEYS = [
    ['odp_key', 'ODP key'],
    ['experimentation_key', 'Experimentation key'],
    ['content_recs_key', 'Content Recommendations key'],
    ['cmp_key', 'CMP key'],
  ];
  const SAMPLE = {
    company_name: 'Acme Outdoor',
    industry: 'retail',
    goals: 'Grow repeat purchases\nLift mobile conversion',
    target_audience: 'Outdoor enthusiasts aged 25-45 in North America',
    current_challenges: 'Low email engagement',
    project_id: '123456',
    workspace_id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  };
  const RECOMMENDATIONS_SHOWN = 10;
  const STALL_MS = 45000;

  // ---- small helpers ---------------------------------------------------------

  const $ = (selector, root = document) => root.querySelector(selector);

  /** Builds an element; text is always set as text, never parsed as HTML. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const ACRONYMS = new Set(['api', 'cmp', 'odp', 'opal', 'url']);
  /** `cmp_organizer` → `CMP organizer`. */
  const humanise = (id) => {
    const words = String(id).split('_').map((w) => (ACRONYMS.has(w) ? w.toUpperCase() : w));
    const text = words.join(' ');
    return text.charAt(0).toUpperCase() + text.slice(1);
  };
  const percent = (v) => (typeof v === 'number' ? `${Math.round(v * 100)}%` : '–');
  const badge = (status, text) => el('span', { class: `badge ${status}`, text: text || String(status).replace(/_/g, ' ') });

  function time(iso) {
    if (!iso) return '–';
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    return el('time', { datetime: iso, title: iso, text: date.toLocaleString() });
  }

  function clock(ms) {
    const total = Math.max(0, Math.round(ms / 1000));
    const m = Math.floor(total / 60);
    const s = String(total % 60).padStart(2, '0');
    return `${m}:${s}`;
  }

  const duration = (ms) => (typeof ms === 'number' ? (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`) : '–');

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }

  function row(cells) {
    return el('tr', {}, cells.map(([label, content]) => el('td', { 'data-label': label }, content)));
  }

  // ---- messages --------------------------------------------------------------

  function showAlert(text) {
    const alert = $('#alert');
    alert.textContent = text;
    alert.hidden = false;
  }

  function clearAlert() {
    const alert = $('#alert');
    alert.textContent = '';
    alert.hidden = true;
  }

  let noticeCarries = false;

  /** A polite message; `carry` keeps it across the navigation that follows. */
  function notify(text, { carry = false } = {}) {
    $('#notice').textContent = text;
    noticeCarries = carry;
  }

  function showIn(selector, text) {
    const node = $(selector);
    node.textContent = text;
    node.hidden = !text;
  }

  // ---- the API ---------------------------------------------------------------

  class ApiFailure extends Error {
    constructor(status, code, message, details = []) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details;
    }
  }

  /** The API's JSON error, in words; a generic one when the body is not JSON. */
  async function failureOf(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON: a proxy's page, say. The status line is all there is.
    }
    if (body && body.error) {
      return new ApiFailure(response.status, body.error.code, body.error.message, body.error.details || []);
    }
    const text = response.statusText ? ` ${response.statusText}` : '';
    return new ApiFailure(response.status, `http_${response.status}`, `OSA answered ${response.status}${text}`);
  }

  async function request(method, path, { body, as = 'json', signal } = {}) {
    const headers = { Authorization: `Bearer ${session.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        signal,
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new ApiFailure(0, 'unreachable', `OSA could not be reached (${e.message})`);
    }
    if (!response.ok) {
      const failure = await failureOf(response);
      if (response.status === 401) signOut(`Your token was refused: ${failure.message}. Sign in again.`);
      throw failure;
    }
    return as === 'text' ? response.text() : response.json();
  }

  const api = {
    get: (path, options) => request('GET', path, options),
    post: (path, body, options) => request('POST', path, { ...options, body }),
    put: (path, body, options) => request('PUT', path, { ...options, body }),
  };

  const workflowPath = (id) => `/api/strategy/workflows/${encodeURIComponent(id)}`;
  // Live streams come from this origin, or on AWS from the stream function's URL.
  const STREAM_BASE = document.querySelector('meta[name="osa-stream-base"]')?.content || '';

  // ---- sign-in ---------------------------------------------------------------

  const session = { token: null, returnTo: null };

  /** The token's claims, for display only (the server verifies it). */
  function claims(token) {
    try {
      let part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      part += '='.repeat((4 - (part.length % 4)) % 4);
      return JSON.parse(atob(part));
    } catch {
      return null;
    }
  }

  /** `osa serve` prints `/#token=...`: keep the token, then drop it from the address. */
  function takeTokenFromAddress() {
    const match = /^#token=([^&]+)/.exec(location.hash);
    if (!match) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, '', `${location.pathname}${location.search}#/new`);
  }

  function loadSession() {
    takeTokenFromAddress();
    session.token = sessionStorage.getItem(TOKEN_KEY);
    const who = $('#who');
    const signOutButton = $('#sign-out');
    if (!session.token) {
      who.textContent = 'Not signed in';
      signOutButton.hidden = true;
      return;
    }
    const c = claims(session.token);
    if (c && typeof c.exp === 'number' && c.exp * 1000 < Date.now()) {
      signOut(`Your token expired at ${new Date(c.exp * 1000).toLocaleString()}. Sign in again.`);
      return;
    }
    const scopes = c && typeof c.scope === 'string' ? ` (${c.scope})` : '';
    who.textContent = c && c.sub ? `Signed in as ${c.sub}${scopes}` : 'Signed in';
    signOutButton.hidden = false;
  }

  function signOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    session.token = null;
    stopFollowing();
    if (!location.hash.startsWith('#/signin')) session.returnTo = location.hash;
    loadSession();
    if (reason) showAlert(reason);
    if (!location.hash.startsWith('#/signin')) location.hash = '#/signin';
  }

  function setupSignIn() {
    $('#sign-out').addEventListener('click', () => {
      signOut(null);
      notify('Signed out.', { carry: true });
    });
    $('#signin-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = $('#signin-token');
      const error = $('#signin-token-error');
      const token = input.value.trim().replace(/^Bearer\s+/i, '');
      if (!token) {
        error.textContent = 'Paste a token first.';
        error.hidden = false;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      error.hidden = true;
      input.removeAttribute('aria-invalid');
      input.value = '';
      sessionStorage.setItem(TOKEN_KEY, token);
      clearAlert();
      loadSession();
      if (session.token) {
        const target = session.returnTo && session.returnTo !== '#/signin' ? session.returnTo : '#/new';
        session.returnTo = null;
        if (location.hash === target) route();
        else location.hash = target;
      }
    });
  }

  // ---- field errors (the API's 422 details, next to their fields) -------------

  function keyFields(container) {
    const prefix = container.dataset.keys;
    for (const [name, label] of KEYS) {
      const id = `${prefix.replace(/\W/g, '-')}-${name}`;
      container.append(el('div', { class: 'field', 'data-path': `${prefix}.${name}` },
        el('label', { for: id, text: label }),
        el('input', { id, type: 'password', autocomplete: 'off', spellcheck: 'false' })));
    }
  }

  function readKeys(container) {
    const keys = {};
    for (const [name] of KEYS) {
      const input = $(`[data-path$=".${name}"] input`, container);
      if (input.value.trim()) keys[name] = input.value.trim();
    }
    return Object.keys(keys).length ? keys : null;
  }

  function clearFieldErrors(form) {
    for (const node of form.querySelectorAll('.field-error[data-generated]')) node.remove();
    for (const node of form.querySelectorAll('[aria-invalid]')) {
      node.removeAttribute('aria-invalid');
      const hint = node.dataset.describedby;
      if (hint !== undefined) {
        if (hint) node.setAttribute('aria-describedby', hint);
        else node.removeAttribute('aria-describedby');
      }
    }
  }

  /** The field a detail's path names: the path itself, else its nearest parent. */
  function fieldFor(form, path) {
    let p = path;
    let prefix = '';
    const item = /^(.*)\[(\d+)\]$/.exec(p);
    if (item) p = item[1];
    while (p) {
      const field = form.querySelector(`[data-path="${CSS.escape(p)}"]`);
      if (field) {
        if (item && field.dataset.lines) prefix = `${humanise(field.dataset.lines)} ${Number(item[2]) + 1}: `;
        return { field, prefix };
      }
      p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '';
    }
    return { field: null, prefix: '' };
  }

  /** Shows each detail by its field and lists them all in `summary`. */
  function showFieldErrors(form, summary, details) {
    clearFieldErrors(form);
    const list = el('ul');
    let first = null;
    details.forEach((detail, i) => {
      const { field, prefix } = fieldFor(form, detail.path || '');
      const message = `${prefix}${detail.message}`;
      if (!field) {
        list.append(el('li', { text: detail.path ? `${detail.path}: ${message}` : message }));
        return;
      }
      const control = field.querySelector('input, select, textarea');
      const errorId = `${form.id}-error-${i}`;
      field.append(el('p', { class: 'field-error', id: errorId, 'data-generated': true, text: message }));
      const label = (field.querySelector('label, legend')?.textContent || detail.path).replace(/\s*\*\s*/g, ' ').replace(/\(.*?\)/g, '').trim();
      if (control) {
        if (control.dataset.describedby === undefined) control.dataset.describedby = control.getAttribute('aria-describedby') || '';
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-describedby', `${control.dataset.describedby} ${errorId}`.trim());
        first = first || control;
        list.append(el('li', {}, el('a', {
          href: `#${control.id}`,
          text: `${label}: ${message}`,
          onclick: (event) => { event.preventDefault(); control.focus(); },
        })));
      } else {
        list.append(el('li', { text: `${label}: ${message}` }));
      }
    });
    if (summary) {
      summary.querySelector('ul').replaceWith(list);
      summary.hidden = false;
      summary.focus();
    } else if (first) {
      first.focus();
    }
  }

  // ---- New strategy ----------------------------------------------------------

  const intake = { key: null };

  function setupIntake() {
    const industry = $('#industry');
    industry.append(el('option', { value: '', text: 'Choose an industry' }));
    for (const name of INDUSTRIES) industry.append(el('option', { value: name, text: humanise(name) }));
    keyFields($('#intake-form .keys'));
    $('#intake-sample').addEventListener('click', () => {
      for (const [name, value] of Object.entries(SAMPLE)) $(`#${name}`).value = value;
      notify('The example is filled in; review it and start the analysis.');
    });
    $('#intake-form').addEventListener('submit', submitIntake);
  }

  const lines = (id) => $(`#${id}`).value.split('\n').map((s) => s.trim()).filter(Boolean);

  function intakeBody() {
    const business = {
      company_name: $('#company_name').value.trim(),
      industry: $('#industry').value,
      goals: lines('goals'),
      target_audience: $('#target_audience').value.trim(),
    };
    const challenges = lines('current_challenges');
    if (challenges.length) business.current_challenges = challenges;
    const optimizely = {
      project_id: $('#project_id').value.trim(),
      workspace_id: $('#workspace_id').value.trim(),
    };
    const keys = readKeys($('#intake-form .keys'));
    if (keys) optimizely.api_credentials = keys;
    const focus = [...document.querySelectorAll('input[name="focus_areas"]:checked')].map((c) => c.value);
    const body = {
      business_context: business,
      optimizely_config: optimizely,
      analysis_preferences: {
        analysis_depth: $('#analysis_depth').value,
        focus_areas: focus,
        timeline: $('#timeline').value,
      },
    };
    // One idempotency key per intake until it is accepted: a retry after a lost
    // answer returns the same workflow instead of starting a second one.
    if (!intake.key && crypto.randomUUID) intake.key = crypto.randomUUID();
    if (intake.key) body.workflow_id = intake.key;
    return body;
  }

  async function submitIntake(event) {
    event.preventDefault();
    const form = $('#intake-form');
    const summary = $('#intake-summary');
    const button = $('#intake-submit');
    clearAlert();
    clearFieldErrors(form);
    summary.hidden = true;
    if (!$('#industry').value) {
      showFieldErrors(form, summary, [{ path: 'business_context.industry', message: 'choose one' }]);
      return;
    }
    button.disabled = true;
    try {
      const reply = await api.post('/api/strategy/intake', intakeBody());
      intake.key = null;
      form.reset();
      if (!reply.created) notify(`This intake was already submitted: workflow ${reply.workflow_id}.`, { carry: true });
      else if (reply.status === 'credentials_invalid') notify(`Workflow ${reply.workflow_id} is paused: Optimizely refused its keys.`, { carry: true });
      else notify(`Workflow ${reply.workflow_id} started.`, { carry: true });
      location.hash = `#/workflow/${reply.workflow_id}`;
    } catch (failure) {
      if (failure.status === 422 && failure.details?.length) {
        showFieldErrors(form, summary, failure.details);
      } else if (failure.status !== 401) {
        showAlert(`The intake was not accepted: ${failure.message}`);
      }
    } finally {
      button.disabled = false;
    }
  }

  // ---- Workflow: live progress, actions, report -------------------------------

  const wf = {
    id: null,
    view: null,
    follow: null, // AbortController of the stream (or the fallback)
    report: null,
    showAll: false,
    events: 0,
  };

  function setLive(text) {
    $('#wf-live').textContent = text;
  }

  function stopFollowing() {
    wf.follow?.abort();
    wf.follow = null;
  }

  function setupWorkflow() {
    $('#open-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const id = $('#open-id').value.trim();
      if (id) location.hash = `#/workflow/${encodeURIComponent(id)}`;
    });
    $('#open-latest').addEventListener('click', async () => {
      clearAlert();
      try {
        // The listing needs only osa:read, so a read-only user can use it.
        const newest = (await api.get('/api/strategy/workflows?limit=1')).workflows[0];
        if (newest) location.hash = `#/workflow/${encodeURIComponent(newest.workflow_id)}`;
        else notify('No workflow yet: start one from New strategy.');
      } catch (failure) {
        if (failure.status !== 401) showAlert(`Could not find the latest workflow: ${failure.message}`);
      }
    });
    $('#force-sync').addEventListener('click', forceSync);
    keyFields($('#credentials-form .keys'));
    $('#credentials-form').addEventListener('submit', submitCredentials);
    $('#download-md').addEventListener('click', downloadMarkdown);
    $('#show-all-recs').addEventListener('click', () => {
      wf.showAll = !wf.showAll;
      renderReport();
    });
    // Deadline countdowns.
    setInterval(() => {
      if (wf.view && !$('#page-workflow').hidden) renderDeadlines();
    }, 1000);
  }

  async function openWorkflow(id) {
    if (!id) {
      if (wf.id) {
        location.hash = `#/workflow/${encodeURIComponent(wf.id)}`;
        return;
      }
      $('#workflow-body').hidden = true;
      $('#workflow-title').textContent = 'Workflow';
      notify('Open a workflow by its id, or start one from New strategy.');
      return;
    }
    if (wf.id === id && wf.follow) return;
    stopFollowing();
    Object.assign(wf, { id, view: null, report: null, showAll: false, events: 0 });
    $('#open-id').value = id;
    $('#report').hidden = true;
    $('#activity').replaceChildren();
    $('#activity-count').textContent = '0';
    $('[data-nav="workflow"]').setAttribute('href', `#/workflow/${encodeURIComponent(id)}`);
    const controller = new AbortController();
    wf.follow = controller;
    try {
      applyView(await api.get(workflowPath(id), { signal: controller.signal }));
    } catch (failure) {
      if (controller.signal.aborted) return;
      $('#workflow-body').hidden = true;
      if (failure.status !== 401) showAlert(`Could not load workflow ${id}: ${failure.message}`);
      wf.follow = null;
      return;
    }
    if (TERMINAL.has(wf.view.status)) {
      setLive('Finished');
      wf.follow = null;
      await loadReport();
      return;
    }
    follow(id, controller.signal).finally(() => {
      if (wf.follow === controller) wf.follow = null;
    });
  }

  /** Follows the workflow's event stream; reconnects with Last-Event-ID. */
  async function follow(id, signal) {
    let lastEventId = null;
    let failures = 0;
    let retryMs = 1000;
    while (!signal.aborted) {
      const headers = { Authorization: `Bearer ${session.token}`, Accept: 'text/event-stream' };
      if (lastEventId !== null) headers['Last-Event-ID'] = lastEventId;
      // One connection, ended by the page (`signal`) or by the watchdog below.
      const connection = new AbortController();
      const cut = () => connection.abort();
      signal.addEventListener('abort', cut, { once: true });
      let response;
      try {
        response = await fetch(`${STREAM_BASE}${workflowPath(id)}/stream`, { headers, signal: connection.signal, cache: 'no-store' });
      } catch (e) {
        signal.removeEventListener('abort', cut);
        if (signal.aborted) return;
        failures += 1;
        setLive(`Connection lost (${e.message}); reconnecting…`);
        await sleep(backoff(failures, retryMs), signal);
        continue;
      }
      if (!response.ok) signal.removeEventListener('abort', cut);
      if (response.status === 404) {
        // The workflow exists (it was just read), so a 404 means a server
        // without the stream: re-read the status view every 2 s instead.
        await response.body?.cancel();
        await pollStatus(id, signal);
        return;
      }
      if (!response.ok) {
        const failure = await failureOf(response);
        if (response.status === 401) {
          signOut(`Your token was refused: ${failure.message}. Sign in again.`);
          return;
        }
        if (response.status === 429 || response.status >= 500) {
          failures += 1;
          setLive(`Live updates interrupted (${failure.message}); reconnecting…`);
          await sleep(backoff(failures, retryMs), signal);
          continue;
        }
        setLive('Not live');
        showAlert(`Live updates are not available: ${failure.message}`);
        return;
      }
      setLive('Live');
      let outcome = null;
      // Heartbeats come every 15 s: after three missed, the connection is dead
      // even if nothing said so (a proxy that went quiet); reconnect.
      let watchdog = null;
      const alive = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(cut, STALL_MS);
      };
      alive();
      try {
        for await (const event of sseEvents(response.body, alive)) {
          if (event.id !== null) lastEventId = event.id;
          if (event.retry !== null) retryMs = event.retry;
          outcome = await handleEvent(event);
          if (outcome) break;
          failures = 0;
        }
      } catch (e) {
        if (signal.aborted) return;
        setLive(`Connection lost (${connection.signal.aborted ? 'no heartbeat' : e.message}); reconnecting…`);
      } finally {
        clearTimeout(watchdog);
        signal.removeEventListener('abort', cut);
      }
      if (signal.aborted) return;
      if (outcome === 'done') return;
      if (outcome && outcome.error) {
        const { code, message } = outcome.error;
        if (['not_found', 'unauthorized', 'invalid_token', 'insufficient_scope'].includes(code)) {
          setLive('Not live');
          showAlert(`Live updates stopped: ${message}`);
          return;
        }
        failures += 1;
        setLive(`Live updates interrupted (${message}); reconnecting…`);
        await sleep(backoff(failures, retryMs), signal);
        continue;
      }
      // The stream ended without the workflow's final event (a server's time
      // limit, say): resume where it left off.
      if (wf.view && TERMINAL.has(wf.view.status)) {
        setLive('Finished');
        await loadReport();
        return;
      }
      await sleep(failures ? backoff(failures, retryMs) : 250, signal);
    }
  }

  const backoff = (failures, base) => Math.min(30000, base * 2 ** Math.min(failures - 1, 5));

  /**
   * Server-sent events from a response body: `event:`, `data:`, `id:` and
   * `retry:` fields, events ended by a blank line, comments ignored, as the
   * HTML standard's event-stream format says.
   */
  async function* sseEvents(body, onChunk) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let first = true;
    let lastId = null;
    let type = '';
    let data = '';
    let retry = null;
    let idSeen = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        onChunk();
        buffer += decoder.decode(value, { stream: true });
        if (first && buffer.length) {
          if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
          first = false;
        }
        let start = 0;
        for (let i = 0; i < buffer.length; i += 1) {
          const c = buffer[i];
          if (c !== '\n' && c !== '\r') continue;
          // A CR at the end of what arrived may be half of a CRLF: wait for more.
          if (c === '\r' && i + 1 === buffer.length) break;
          const line = buffer.slice(start, i);
          if (c === '\r' && buffer[i + 1] === '\n') i += 1;
          start = i + 1;
          if (line === '') {
            if (data !== '') {
              yield { type: type || 'message', data: data.slice(0, -1), id: idSeen ? lastId : null, retry };
            }
            type = '';
            data = '';
            retry = null;
            idSeen = false;
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          let value = colon === -1 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'event') type = value;
          else if (field === 'data') data += `${value}\n`;
          else if (field === 'id' && !value.includes('\0')) {
            lastId = value;
            idSeen = true;
          } else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
        }
        buffer = buffer.slice(start);
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  /** Applies one stream event; returns 'done', `{error}` or nothing. */
  async function handleEvent(event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      showAlert(`An update (${event.type}) could not be read.`);
      return null;
    }
    switch (event.type) {
      case 'connection':
        applyView(data);
        logActivity(data.updated_at, `Connected: workflow ${data.status}`);
        return null;
      case 'webhook_event':
        updateAgent(data.agent, data.agent_status, data.at, { event: true });
        logActivity(data.at, `${humanise(data.agent)}: ${data.agent_status.replace(/_/g, ' ')}`);
        return null;
      case 'agent_status':
        updateAgent(data.agent, data.status, data.at, { late: data.late });
        logActivity(data.at, `${humanise(data.agent)}: ${data.status.replace(/_/g, ' ')}${data.late ? ' (late result)' : ''}`);
        return null;
      case 'workflow_status':
        logActivity(data.at, `Workflow: ${data.status.replace(/_/g, ' ')}`);
        if (wf.view) {
          wf.view.status = data.status;
          if (TERMINAL.has(data.status)) wf.view.progress_percent = 100;
          renderOverview();
        }
        // The pause names the refused services; the view has them.
        if (data.status === 'credentials_invalid') await refreshView();
        return null;
      case 'report_ready':
        logActivity(data.at, 'Report ready');
        setLive('Finished');
        await refreshView();
        await loadReport();
        return 'done';
      case 'heartbeat':
        setLive(`Live (last heard ${new Date(data.at || Date.now()).toLocaleTimeString()})`);
        return null;
      case 'error':
        return { error: { code: data.code || 'stream_error', message: data.message || 'the stream failed' } };
      default:
        return null;
    }
  }

  /**
   * For a server without the stream: re-reads the status view every 2 s until
   * the workflow finishes.
   */
  async function pollStatus(id, signal) {
    setLive('Updating every 2 s (no live stream on this server)');
    while (!signal.aborted) {
      await sleep(2000, signal);
      if (signal.aborted) return;
      try {
        const view = await api.get(workflowPath(id), { signal });
        diffActivity(wf.view, view);
        applyView(view);
        if (TERMINAL.has(view.status)) {
          setLive('Finished');
          await loadReport();
          return;
        }
      } catch (failure) {
        if (signal.aborted || failure.status === 401) return;
        setLive(`Update failed (${failure.message}); retrying…`);
      }
    }
  }

  /** For the fallback: the agent changes between two views, as activity. */
  function diffActivity(before, after) {
    if (!before) return;
    for (const agent of after.agents) {
      const old = before.agents.find((a) => a.agent === agent.agent);
      if (old && old.status !== agent.status) logActivity(agent.last_event_at || after.updated_at, `${humanise(agent.agent)}: ${agent.status.replace(/_/g, ' ')}`);
    }
    if (before.status !== after.status) logActivity(after.updated_at, `Workflow: ${after.status.replace(/_/g, ' ')}`);
  }

  async function refreshView() {
    try {
      applyView(await api.get(workflowPath(wf.id)));
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not refresh the workflow: ${failure.message}`);
    }
  }

  function applyView(view) {
    if (view.workflow_id !== wf.id) return;
    wf.view = view;
    $('#workflow-body').hidden = false;
    $('#workflow-title').textContent = `Workflow: ${view.business_context?.company_name || view.workflow_id}`;
    renderOverview();
    renderAgents();
  }

  function updateAgent(id, status, at, { event = false, late = false } = {}) {
    const agent = wf.view?.agents.find((a) => a.agent === id);
    if (!agent) return;
    if (event) {
      agent.events = (agent.events || 0) + 1;
      agent.last_event_at = at;
    }
    if (late) agent.late_result_at = agent.late_result_at || at;
    if (status && status !== agent.status && !AGENT_DONE.has(agent.status)) {
      agent.status = status;
      if (status === 'running' && !agent.started_at) {
        agent.started_at = at;
        agent.deadline_at = new Date(Date.parse(at) + agent.allowed_ms).toISOString();
      }
      if (AGENT_DONE.has(status)) {
        agent.finished_at = agent.finished_at || at;
        if (agent.started_at && agent.duration_ms === undefined) agent.duration_ms = Date.parse(at) - Date.parse(agent.started_at);
      }
    }
    const counts = { pending: 0, running: 0, completed: 0, failed: 0, timed_out: 0 };
    for (const a of wf.view.agents) counts[a.status] = (counts[a.status] || 0) + 1;
    wf.view.progress = counts;
    if (!TERMINAL.has(wf.view.status)) {
      const total = wf.view.agents.length || 1;
      const done = counts.completed + counts.failed + counts.timed_out;
      wf.view.progress_percent = Math.min(100, Math.floor(((done * 2 + counts.running) * 100) / (total * 2)));
    }
    renderOverview();
    renderAgents();
  }

  function logActivity(at, text) {
    wf.events += 1;
    $('#activity-count').textContent = String(wf.events);
    const when = at ? new Date(at).toLocaleTimeString() : '';
    const list = $('#activity');
    list.prepend(el('li', {}, when ? `${when} · ${text}` : text));
    while (list.children.length > 200) list.lastChild.remove();
  }

  function renderOverview() {
    const v = wf.view;
    const status = $('#wf-status');
    status.className = `badge ${v.status}`;
    status.textContent = v.status.replace(/_/g, ' ');
    // Runs count from 1 for people: the first, then one per Force Sync.
    const sync = v.force_sync ? ` · last Force Sync ${v.force_sync.state.replace(/_/g, ' ')}` : '';
    $('#wf-run').textContent = `${(v.run || 0) + 1}${sync}`;
    $('#wf-progress').value = v.progress_percent;
    const p = v.progress || {};
    const done = (p.completed || 0) + (p.failed || 0) + (p.timed_out || 0);
    const extra = [p.failed ? `${p.failed} failed` : '', p.timed_out ? `${p.timed_out} timed out` : ''].filter(Boolean).join(', ');
    $('#wf-progress-text').textContent = `${done} of ${v.agents.length} agents done${extra ? ` (${extra})` : ''}`;
    $('#wf-confidence').textContent = percent(v.confidence);
    $('#wf-created').replaceChildren(time(v.created_at));
    const trigger = $('#wf-trigger');
    if (v.trigger?.dead_lettered_delivery_id) {
      trigger.replaceChildren(
        `The workflow did not start: ${(v.trigger.last_error || 'its OPAL trigger was dead-lettered').replace(/^failed to start:\s*/, '')}. `,
        el('a', { href: '#/ops', text: 'Redrive the trigger from Operations.' }),
      );
      trigger.hidden = false;
    } else if (v.trigger?.last_error && v.status === 'pending') {
      trigger.replaceChildren(`Starting the agents is taking longer than usual (attempt ${v.trigger.attempts}): ${v.trigger.last_error}. OSA keeps trying.`);
      trigger.hidden = false;
    } else {
      trigger.hidden = true;
    }
    const paused = v.status === 'credentials_invalid';
    $('#credentials').hidden = !paused;
    if (paused) {
      const refused = (v.credentials_pause?.refused || []).map((r) => `${humanise(r.service)} (HTTP ${r.status})`);
      $('#credentials-refused').textContent = refused.length
        ? `Optimizely refused the keys for ${refused.join(', ')}. The workflow is paused until refreshed keys are verified.`
        : 'Optimizely refused the keys. The workflow is paused until refreshed keys are verified.';
    }
  }

  /** When the agent times out, mirroring the server: from its start, or from the trigger's acceptance. */
  function deadlineOf(agent) {
    const own = Date.parse(agent.deadline_at);
    const accepted = wf.view.trigger?.accepted_at;
    if (agent.started_at || !accepted) return own;
    return Math.max(own, Date.parse(accepted) + agent.allowed_ms);
  }

  function deadlineCell(agent) {
    if (agent.status === 'timed_out') return badge('timed_out', 'timed out');
    if (AGENT_DONE.has(agent.status)) return 'met';
    if (!['pending', 'running'].includes(wf.view.status)) return '–';
    const left = deadlineOf(agent) - Date.now();
    if (left < 0) return el('span', { class: 'overdue', text: `overdue by ${clock(-left)}` });
    return el('span', { title: new Date(deadlineOf(agent)).toLocaleString() }, `${clock(left)} left`);
  }

  function renderAgents() {
    const body = $('#agents tbody');
    body.replaceChildren(...wf.view.agents.map((a) => {
      const tr = row([
        ['Agent', humanise(a.agent)],
        ['Status', el('span', {},
          badge(a.status),
          a.late_result_at ? [' ', badge('late', 'late result')] : null,
          a.error ? el('span', { class: 'hint', text: ` ${a.error}` }) : null)],
        ['Deadline', deadlineCell(a)],
        ['Duration', duration(a.duration_ms)],
        ['Confidence', percent(a.confidence)],
      ]);
      tr.dataset.agent = a.agent;
      tr.dataset.status = a.status;
      return tr;
    }));
  }

  function renderDeadlines() {
    for (const a of wf.view.agents) {
      const cell = $(`#agents tr[data-agent="${CSS.escape(a.agent)}"] td[data-label="Deadline"]`);
      cell?.replaceChildren(deadlineCell(a));
    }
  }

  async function forceSync() {
    const button = $('#force-sync');
    button.disabled = true;
    clearAlert();
    try {
      const reply = await api.post('/api/opal/sync', { triggered_by: 'dashboard', client_context: { workflow_id: wf.id } });
      notify(reply.already_in_flight
        ? `A Force Sync was already in flight (sync ${reply.sync_id}).`
        : `Force Sync started (sync ${reply.sync_id}).`);
      // The new run starts when OPAL takes the sync: wait for it (a few
      // seconds at most), then follow it live.
      const before = wf.view?.run ?? 0;
      await refreshView();
      for (let i = 0; i < 40 && wf.view && wf.view.run <= before && wf.view.force_sync?.state === 'in_flight'; i++) {
        await sleep(250);
        await refreshView();
      }
      if (!wf.follow && wf.view && !TERMINAL.has(wf.view.status)) {
        const id = wf.id;
        wf.id = null;
        await openWorkflow(id);
      }
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Force Sync failed: ${failure.message}`);
    } finally {
      button.disabled = false;
    }
  }

  async function submitCredentials(event) {
    event.preventDefault();
    const form = $('#credentials-form');
    clearFieldErrors(form);
    showIn('#credentials-summary', '');
    clearAlert();
    const keys = readKeys($('#credentials-form .keys'));
    if (!keys) {
      showFieldErrors(form, null, [{ path: 'api_credentials.odp_key', message: 'give at least one refreshed key' }]);
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await api.post(`${workflowPath(wf.id)}/credentials`, { api_credentials: keys });
      form.reset();
      notify('The keys were accepted and the workflow resumed.');
      const id = wf.id;
      wf.id = null;
      stopFollowing();
      await openWorkflow(id);
    } catch (failure) {
      if (failure.status === 401) return;
      showIn('#credentials-summary', failure.message);
      if (failure.details?.length) showFieldErrors(form, null, failure.details);
    } finally {
      button.disabled = false;
    }
  }

  async function loadReport() {
    // A workflow whose trigger never got through has no agent output to report.
    if (wf.view?.trigger?.dead_lettered_delivery_id) return;
    try {
      wf.report = await api.get(`${workflowPath(wf.id)}/report`);
      renderReport();
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not load the report: ${failure.message}`);
    }
  }

  function renderReport() {
    const r = wf.report;
    if (!r) return;
    $('#report').hidden = false;
    $('#report-title').textContent = r.final ? 'Strategy report' : 'Strategy report (provisional)';
    $('#report-headline').textContent = r.summary.headline;
    $('#report-agents').textContent = `${r.summary.agents_reporting} of ${r.summary.agents_expected}`;
    $('#report-confidence').textContent = percent(r.summary.overall_confidence);
    $('#report-count').textContent = String(r.recommendations.length);
    $('#report-points').replaceChildren(...(r.summary.executive_summary || []).map((p) => el('li', { text: p })));
    const warnings = $('#report-warnings');
    warnings.hidden = !r.warnings.length;
    warnings.querySelector('ul').replaceChildren(...r.warnings.map((w) => el('li', {}, el('strong', { text: w.code.replace(/_/g, ' ') }), `: ${w.message}`)));

    const byRank = new Map(r.recommendations.map((rec) => [rec.rank, rec]));
    $('#roadmap').replaceChildren(...r.roadmap.map((phase) => el('section', { 'aria-label': phase.name },
      el('h4', { text: `${phase.name}` }),
      el('p', { class: 'hint', text: `Days ${phase.start_day}–${phase.end_day}` }),
      phase.goal ? el('p', { text: phase.goal }) : null,
      phase.kpis?.length
        ? el('p', { class: 'hint', text: `Move: ${phase.kpis.map((k) => `${k.name} (now ${k.baseline})`).join('; ')}` })
        : null,
      phase.recommendations.length
        ? el('ol', {}, phase.recommendations.map((rank) => el('li', { value: rank, text: byRank.get(rank)?.label || `#${rank}` })))
        : el('p', { text: 'Nothing in this phase.' }))));
    $('#roadmap-backlog').textContent = r.backlog?.length
      ? `${r.backlog.length} more recommendation${r.backlog.length === 1 ? '' : 's'} wait in the backlog.`
      : '';
    const phaseName = new Map(r.roadmap.map((phase) => [phase.phase, phase.name]));

    const shown = wf.showAll ? r.recommendations : r.recommendations.slice(0, RECOMMENDATIONS_SHOWN);
    $('#recommendations tbody').replaceChildren(...shown.map((rec) => row([
      ['#', String(rec.rank)],
      ['Recommendation', el('span', {}, rec.label,
        rec.prerequisite_for?.length ? el('span', { class: 'hint', text: ` (comes first: needed for #${rec.prerequisite_for.join(', #')})` }) : null,
        rec.disagreement ? el('span', { class: 'hint', text: ' (agents disagreed on impact or effort)' }) : null)],
      ['Impact', rec.impact],
      ['Effort', rec.effort],
      ['Confidence', percent(rec.confidence)],
      ['Score', rec.score.toFixed(1)],
      ['Phase', rec.phase ? phaseName.get(rec.phase) || String(rec.phase) : 'Backlog'],
      ['Agents', rec.supporting_agents.map(humanise).join(', ')],
    ])));
    $('#recommendations').hidden = !r.recommendations.length;
    const more = $('#show-all-recs');
    more.hidden = r.recommendations.length <= RECOMMENDATIONS_SHOWN;
    more.textContent = wf.showAll ? `Show the top ${RECOMMENDATIONS_SHOWN}` : `Show all ${r.recommendations.length}`;
  }

  async function downloadMarkdown() {
    clearAlert();
    try {
      const text = await api.get(`${workflowPath(wf.id)}/report?format=markdown`, { as: 'text' });
      const url = URL.createObjectURL(new Blob([text], { type: 'text/markdown;charset=utf-8' }));
      const link = el('a', { href: url, download: `osa-strategy-${wf.id}.md`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      notify('The Markdown report was downloaded.');
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not download the report: ${failure.message}`);
    }
  }

  // ---- Operations ------------------------------------------------------------

  const ops = { delivery: null, maintenance: null };

  function setupOps() {
    $('#ops-refresh').addEventListener('click', () => loadOps());
    $('#maintenance-form').addEventListener('submit', saveMaintenance);
    $('#dlq-redrive-all').addEventListener('click', redriveAll);
    $('#recovery-form').addEventListener('submit', recover);
    // The last hour, to the second, in the browser's time zone.
    const local = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    const now = new Date();
    $('#recovery-since').value = local(new Date(now.getTime() - 3600 * 1000));
    $('#recovery-until').value = local(now);
  }

  function loadOps() {
    return Promise.all([loadHealth(), loadAlerts(), loadMaintenance(), loadDeadLetters(), loadRecent()]);
  }

  /** Runs a panel's loader, showing its failure in that panel. */
  async function panel(errorSelector, what, load) {
    try {
      await load();
      showIn(errorSelector, '');
    } catch (failure) {
      if (failure.status !== 401) showIn(errorSelector, `Could not load ${what}: ${failure.message}`);
    }
  }

  const loadHealth = () => panel('#health-error', 'the health report', async () => {
    const body = await api.get('/api/admin/guardrails-health?detailed=true');
    const report = body.report;
    const summary = $('#health-summary');
    if (!report) {
      summary.textContent = body.message || 'No health check has run yet.';
      $('#health tbody').replaceChildren();
    } else {
      summary.replaceChildren('Overall ', badge(report.overall_status), ` · ${report.critical_issues} critical issue${report.critical_issues === 1 ? '' : 's'} · checked `, time(report.checked_at), ` · next check in ${report.next_check_in_seconds} s`);
      $('#health tbody').replaceChildren(...report.services.map((s) => row([
        ['Service', humanise(s.service_name)],
        ['Component', s.component],
        ['Status', el('span', {}, badge(s.status), s.escalated ? [' ', badge('critical', 'escalated')] : null)],
        ['Score', percent(s.health_score)],
        ['Failures in a row', String(s.consecutive_failures)],
        ['Failure rate', percent(s.failure_rate)],
        ['Last check', s.last
          ? el('span', {}, time(s.last.checked_at), ` · ${s.last.response_time_ms} ms`, s.last.failures?.length ? ` · ${s.last.failures.join('; ')}` : '')
          : '–'],
      ])));
    }
    $('#health-history').replaceChildren(...(body.history || []).slice(0, 10).map((h) => el('li', {},
      time(h.checked_at), ' · ', badge(h.overall_status), ` · ${h.critical_issues} critical`)));
  });

  const loadAlerts = () => panel('#alerts-error', 'the alerts', async () => {
    const body = await api.get('/api/admin/alerts');
    const firing = $('#alerts-firing');
    firing.replaceChildren(...body.firing.map((f) => el('li', { 'data-alert': f.alert.alert_id },
      badge(f.severity), ` ${f.name} · firing since `, time(f.alert.fired_at), ` · value ${f.alert.value} · notified ${f.alert.notifications} time${f.alert.notifications === 1 ? '' : 's'}`,
      f.alert.acknowledged ? [' · ', badge('acknowledged', `acknowledged by ${f.alert.acknowledged.by}`)] : null,
      f.alert.silenced && Date.parse(f.alert.silenced.until) > Date.now()
        ? [' · ', badge('silenced', `silenced until ${new Date(f.alert.silenced.until).toLocaleString()}`)] : null,
      ' ',
      f.alert.acknowledged ? null : el('button', { type: 'button', class: 'secondary', text: 'Acknowledge', 'aria-label': `Acknowledge ${f.name}`,
        onclick: () => actOnAlert(f, 'ack') }),
      el('button', { type: 'button', class: 'secondary', text: 'Silence 1 h', 'aria-label': `Silence ${f.name} for an hour`,
        onclick: () => actOnAlert(f, 'silence') }))));
    if (!body.firing.length) firing.append(el('li', { text: 'Nothing is firing.' }));
    const recent = $('#alerts-recent');
    recent.replaceChildren(...body.recent.map((n) => el('li', {},
      time(n.at), ' · ', badge(n.severity), ` ${n.kind.replace(/_/g, ' ')}: ${n.title} · ${n.description} `,
      n.runbook_url ? el('a', { href: n.runbook_url, rel: 'noopener noreferrer', text: 'Runbook' }) : null)));
    if (!body.recent.length) recent.append(el('li', { text: 'No notices yet.' }));
  });

  /** Acknowledges a firing alert, or silences its re-notifications for an hour. */
  async function actOnAlert(firing, action) {
    clearAlert();
    const path = `/api/admin/alerts/${encodeURIComponent(firing.alert.alert_id)}/${action}`;
    try {
      if (action === 'ack') {
        await api.post(path);
        notify(`${firing.name}: acknowledged. It re-notifies no more.`);
      } else {
        const until = new Date(Date.now() + 3600 * 1000).toISOString();
        await api.post(path, { until });
        notify(`${firing.name}: silenced until ${new Date(until).toLocaleString()}.`);
      }
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not ${action === 'ack' ? 'acknowledge' : 'silence'} ${firing.name}: ${failure.message}`);
    }
    await loadAlerts();
  }

  function renderMaintenance(state) {
    ops.maintenance = state.settings;
    $('#maintenance-scheduled').checked = Boolean(state.settings.scheduled);
    const until = state.settings.manual_until;
    const manual = until && Date.parse(until) > Date.now() ? ` Manual maintenance until ${new Date(until).toLocaleString()}.` : '';
    $('#maintenance-state').replaceChildren('Maintenance is ', badge(state.active ? 'degraded' : 'healthy', state.active ? 'on' : 'off'), `.${manual}`);
    $('#maintenance-hours').value = 'keep';
  }

  const loadMaintenance = () => panel('#alerts-error', 'the maintenance switch', async () => {
    renderMaintenance(await api.get('/api/admin/alerts/maintenance'));
  });

  async function saveMaintenance(event) {
    event.preventDefault();
    clearAlert();
    const hours = $('#maintenance-hours').value;
    let manualUntil = ops.maintenance?.manual_until ?? null;
    if (hours === '0') manualUntil = null;
    else if (hours !== 'keep') manualUntil = new Date(Date.now() + Number(hours) * 3600 * 1000).toISOString();
    const button = event.target.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const reply = await api.put('/api/admin/alerts/maintenance', {
        scheduled: $('#maintenance-scheduled').checked,
        manual_until: manualUntil,
      });
      renderMaintenance(reply);
      notify(`Maintenance saved: it is now ${reply.active ? 'on' : 'off'}.`);
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not save the maintenance switch: ${failure.message}`);
    } finally {
      button.disabled = false;
    }
  }

  const loadDeadLetters = () => panel('#dlq-error', 'the dead-letter queue', async () => {
    const body = await api.get('/api/admin/deliveries/dead-letter?limit=100');
    $('#dlq-empty').hidden = body.deliveries.length > 0;
    $('#dlq').hidden = body.deliveries.length === 0;
    $('#dlq-redrive-all').hidden = body.deliveries.length === 0;
    $('#dlq tbody').replaceChildren(...body.deliveries.map((d) => {
      const short = d.id.slice(0, 8);
      const tr = row([
        ['Delivery', el('span', { class: 'mono nowrap', title: d.id, text: short })],
        ['Kind', humanise(d.kind)],
        ['Workflow', d.workflow_id ? el('a', { href: `#/workflow/${encodeURIComponent(d.workflow_id)}`, class: 'mono', text: d.workflow_id.slice(0, 8) }) : '–'],
        ['Reason', d.reason],
        ['Attempts', String(d.attempts)],
        ['Dead-lettered', time(d.dead_lettered_at)],
        ['Actions', el('div', { class: 'actions' },
          el('button', { type: 'button', class: 'secondary', 'aria-label': `History of delivery ${short}`, text: 'History', onclick: () => showDelivery(d.id) }),
          el('button', { type: 'button', 'aria-label': `Redrive delivery ${short}`, text: 'Redrive', onclick: (e) => redrive(d.id, e.currentTarget) }))],
      ]);
      tr.dataset.delivery = d.id;
      return tr;
    }));
  });

  async function showDelivery(id, { focus = true } = {}) {
    clearAlert();
    try {
      const { delivery } = await api.get(`/api/admin/deliveries/${encodeURIComponent(id)}`);
      ops.delivery = delivery;
      const section = $('#delivery');
      section.hidden = false;
      section.dataset.delivery = id;
      $('#delivery-title').textContent = `Delivery ${id.slice(0, 8)}: history`;
      const status = delivery.status || {};
      $('#delivery-summary').replaceChildren(
        `${humanise(delivery.kind)} to `, el('span', { class: 'mono', text: delivery.url }), ' · ',
        badge(status.state || 'pending'),
        status.reason ? ` · ${status.reason}` : '',
        ` · redriven ${delivery.redrives} time${delivery.redrives === 1 ? '' : 's'}`);
      $('#delivery-history tbody').replaceChildren(...delivery.history.map((a) => row([
        ['Run', String(a.run + 1)],
        ['Attempt', String(a.number)],
        ['At', time(a.at)],
        ['Status', a.status_code ? String(a.status_code) : '–'],
        ['Response time', `${a.response_ms} ms`],
        ['Error', a.error || '–'],
        ['Next attempt', a.next_attempt_at ? time(a.next_attempt_at) : '–'],
      ])));
      if (focus) $('#delivery-title').focus();
      return delivery;
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not load delivery ${id}: ${failure.message}`);
      return null;
    }
  }

  async function redrive(id, button) {
    clearAlert();
    if (button) button.disabled = true;
    try {
      const reply = await api.post(`/api/admin/deliveries/${encodeURIComponent(id)}/redrive`, {});
      notify(`Delivery ${id.slice(0, 8)} redriven: run ${reply.run} started.`);
      await loadDeadLetters();
      await followRedrive(id);
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not redrive delivery ${id}: ${failure.message}`);
      if (button) button.disabled = false;
    }
  }

  /** After a redrive, shows the delivery until its new run has an outcome (at most ~20 s). */
  async function followRedrive(id) {
    for (let i = 0; i < 20; i += 1) {
      const delivery = await showDelivery(id, { focus: i === 0 });
      if (!delivery || delivery.status?.state !== 'pending') break;
      await sleep(1000);
    }
    await loadDeadLetters();
    const state = ops.delivery?.id === id ? ops.delivery.status?.state : null;
    if (state) notify(`Delivery ${id.slice(0, 8)} is ${state.replace(/_/g, ' ')}.`);
  }

  async function redriveAll() {
    clearAlert();
    try {
      const reply = await api.post('/api/admin/deliveries/dead-letter/redrive', {});
      const count = reply.delivery_ids.length;
      notify(`Redrive started for ${count} dead letter${count === 1 ? '' : 's'}.`);
      await loadDeadLetters();
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not redrive the dead letters: ${failure.message}`);
    }
  }

  /** Recovery: the dead letters of a window redriven, or events replayed. */
  async function recover(event) {
    event.preventDefault();
    clearAlert();
    const replay = event.submitter?.value === 'replay';
    const workflow = $('#recovery-workflow').value.trim();
    const at = (selector) => {
      const value = $(selector).value;
      return value ? new Date(value).toISOString() : null;
    };
    const span = { since: at('#recovery-since'), until: at('#recovery-until') };
    const buttons = event.target.querySelectorAll('button[type="submit"]');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      if (replay) {
        const reply = await api.post('/api/admin/events/replay', workflow ? { workflow_id: workflow } : span);
        const failed = reply.failed.length ? `; ${reply.failed.length} failed (see the log)` : '';
        notify(`Replayed ${reply.replayed} event${reply.replayed === 1 ? '' : 's'}${failed}${reply.more ? '; more remain: narrow the window' : ''}.`);
      } else {
        const kind = $('#recovery-kind').value;
        const reply = await api.post('/api/admin/deliveries/recover', kind ? { ...span, kind } : span);
        notify(reply.recovered === 0
          ? 'No dead letters to recover in that window.'
          : `Redrive started for ${reply.recovered} dead letter${reply.recovered === 1 ? '' : 's'}${reply.more ? '; more remain: recover again' : ''}.`);
        await loadDeadLetters();
      }
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not ${replay ? 'replay the events' : 'recover the dead letters'}: ${failure.message}`);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  const loadRecent = () => panel('#recent-error', 'the recent status', async () => {
    const r = await api.get('/api/admin/osa/recent-status');
    const item = (label, value) => el('div', {}, el('dt', { text: label }), el('dd', {}, value));
    $('#recent').replaceChildren(
      item('Last workflow', el('span', {}, badge(r.lastWorkflowStatus), ' ',
        r.lastWorkflowId ? el('a', { href: `#/workflow/${encodeURIComponent(r.lastWorkflowId)}`, class: 'mono', text: r.lastWorkflowId.slice(0, 8) }) : '')),
      item('Last webhook', time(r.lastWebhookAt)),
      item('Last agent data', time(r.lastAgentDataAt)),
      item('Last Force Sync', time(r.lastForceSyncAt)),
    );
  });

  // ---- workflows list ---------------------------------------------------------

  const WORKFLOWS_PAGE = 25;
  const listing = { next: null };

  /** The listing's first page for the filters, or (`more`) the page after the last shown. */
  async function loadWorkflows({ more = false } = {}) {
    const params = new URLSearchParams({ limit: String(WORKFLOWS_PAGE) });
    const status = $('#workflows-status').value;
    if (status) params.set('status', status);
    const since = $('#workflows-since').value;
    if (since) {
      const at = new Date(since);
      if (Number.isNaN(at.getTime())) {
        showAlert('Created since: give a date and time.');
        return;
      }
      params.set('since', at.toISOString());
    }
    if (more && listing.next) params.set('cursor', listing.next);
    try {
      const page = await api.get(`/api/strategy/workflows?${params}`);
      const body = $('#workflows tbody');
      if (!more) body.replaceChildren();
      for (const w of page.workflows) {
        body.append(row([
          ['Workflow', el('a', { href: `#/workflow/${encodeURIComponent(w.workflow_id)}`, text: w.workflow_id })],
          ['Company', w.company_name],
          ['Status', badge(w.status)],
          ['Run', String(w.run)],
          ['Progress', `${w.progress_percent}%`],
          ['Created', time(w.created_at)],
          ['Updated', time(w.updated_at)],
        ]));
      }
      listing.next = page.next;
      $('#workflows-more').hidden = !page.next;
      $('#workflows-empty').hidden = body.children.length > 0;
    } catch (failure) {
      if (failure.status !== 401) showAlert(`Could not list the workflows: ${failure.message}`);
    }
  }

  function setupWorkflows() {
    $('#workflows-filter').addEventListener('submit', (event) => {
      event.preventDefault();
      clearAlert();
      loadWorkflows();
    });
    $('#workflows-more').addEventListener('click', () => loadWorkflows({ more: true }));
  }

  // ---- routing ---------------------------------------------------------------

  const PAGES = ['signin', 'new', 'workflows', 'workflow', 'ops'];

  function show(page) {
    for (const name of PAGES) $(`#page-${name}`).hidden = name !== page;
    for (const link of document.querySelectorAll('[data-nav]')) {
      if (link.dataset.nav === page) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const heading = $(`#page-${page} h1`);
    document.title = `${heading.textContent} · OSA dashboard`;
    heading.focus();
  }

  function route() {
    if (location.hash.startsWith('#token=')) loadSession();
    const match = /^#\/([a-z]+)(?:\/(.+))?$/.exec(location.hash) || [];
    const page = match[1] || 'new';
    const arg = match[2] ? decodeURIComponent(match[2]) : null;
    if (!session.token) {
      if (page !== 'signin') {
        session.returnTo = location.hash || '#/new';
        history.replaceState(null, '', `${location.pathname}${location.search}#/signin`);
      }
      show('signin');
      return;
    }
    if (page !== 'workflow') stopFollowing();
    if (page !== 'signin') clearAlert();
    if (!noticeCarries) $('#notice').textContent = '';
    noticeCarries = false;
    switch (page) {
      case 'workflows':
        show('workflows');
        loadWorkflows();
        break;
      case 'workflow':
        show('workflow');
        openWorkflow(arg);
        break;
      case 'ops':
        show('ops');
        loadOps();
        break;
      case 'signin':
        show('signin');
        break;
      default:
        show('new');
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    setupSignIn();
    setupIntake();
    setupWorkflows();
    setupWorkflow();
    setupOps();
    loadSession();
    window.addEventListener('hashchange', route);
    route();
  });
})();
