// A stand-in for `spawnit serve`: the subset of the HTTP API v1 (docs/api.md) that the
// browser UI uses, with jobs simulated on timers and both SSE streams, so the UI can be
// developed and its browser tests run in seconds without OpenTofu or Docker. Templates
// are the real built-in ones (catalog/builtin/*/template.json).
//
//   node e2e/mock-server.mjs                 # single-user, http://127.0.0.1:8090
//   MOCK_AUTH=oidc MOCK_PORT=0 node e2e/mock-server.mjs
//
// Options (environment when run directly, or startMockServer's argument):
//   MOCK_PORT (8090; 0 picks a free one)  MOCK_AUTH single|oidc  MOCK_STEP_MS (120)
//   MOCK_COOL_OFF_MS (1500)  MOCK_STATIC (a built UI to serve, default ../../dist)
//
// Test hooks, not part of the API: POST /__mock/break/{service} deletes the service's
// container (the next drift check reports it missing); POST /__mock/needs-recovery/{service}
// marks it as needing recovery (as when tofu could not save its state: applies and
// destroys answer 409 needs_recovery until POST .../recover); POST /__mock/signal/{service}
// removes its container as Docker would report it (drift missing, awaiting confirmation,
// until a drift check confirms it); GET /__mock/state dumps state.
// Special inputs: a greeting of "fail" makes apply fail.

import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BUILTIN = resolve(here, '../../../../catalog/builtin');
const MASK = '********';
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);

function loadTemplates() {
  const out = new Map();
  for (const id of readdirSync(BUILTIN)) {
    const p = join(BUILTIN, id, 'template.json');
    if (!existsSync(p)) continue;
    const t = JSON.parse(readFileSync(p, 'utf8'));
    out.set(t.id, { ...t, providers: ['docker'] });
  }
  return out;
}

const rid = (prefix, n = 6) => prefix + randomBytes(n).toString('hex').slice(0, n * 2);
const now = () => new Date().toISOString();

function apiError(res, status, code, message, fields) {
  send(res, status, { error: { code, message, ...(fields ? { fields } : {}) } });
}

// page answers one page of a list as the server does (?limit 1..500, default 100;
// ?cursor the next_cursor of the previous page): key(x) is the position in the order.
function page(res, url, all, name, key) {
  const raw = url.searchParams.get('limit');
  const limit = raw === null ? 100 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    return apiError(res, 400, 'validation_failed', '1 field is invalid', [{ field: 'limit', code: 'range', reason: 'must be between 1 and 500' }]);
  }
  let from = 0;
  const cursor = url.searchParams.get('cursor');
  if (cursor) {
    const after = Buffer.from(cursor, 'base64url').toString();
    const i = all.findIndex((x) => key(x) === after);
    if (i < 0) return apiError(res, 400, 'validation_failed', '1 field is invalid', [{ field: 'cursor', code: 'invalid', reason: 'is not a cursor of this list' }]);
    from = i + 1;
  }
  const items = all.slice(from, from + limit);
  const more = from + limit < all.length;
  return send(res, 200, { [name]: items, ...(more ? { next_cursor: Buffer.from(key(items[items.length - 1])).toString('base64url') } : {}) });
}

function send(res, status, body, headers = {}) {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(data);
}

async function readJSON(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 256 << 10) throw Object.assign(new Error('too large'), { status: 413 });
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw Object.assign(new Error('the body is not valid JSON'), { status: 400 });
  }
}

// --- validation, as catalog.Template.Validate words it -------------------------------

function validateInputs(tpl, inputs) {
  const errors = [];
  const values = {};
  const fields = new Map(tpl.inputs.map((f) => [f.name, f]));
  for (const k of Object.keys(inputs ?? {})) {
    if (!fields.has(k)) errors.push({ field: `inputs.${k}`, code: 'unknown', reason: 'is not an input of this template' });
  }
  for (const f of tpl.inputs) {
    let v = inputs?.[f.name];
    const bad = (code, reason) => errors.push({ field: `inputs.${f.name}`, code, reason });
    if (v === undefined || v === null || (v === '' && f.type !== 'string')) {
      if (f.type === 'secret' && f.generate) {
        values[f.name] = randomBytes(64).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, f.generate.length || 24);
        continue;
      }
      if (f.required) {
        bad('required', 'is required');
        continue;
      }
      if (f.default !== undefined) values[f.name] = f.default;
      continue;
    }
    switch (f.type) {
      case 'boolean':
        if (typeof v !== 'boolean') bad('type', 'must be true or false');
        else if (f.required && v !== true) bad('required', 'must be accepted');
        break;
      case 'number':
      case 'integer':
      case 'port': {
        if (typeof v !== 'number') {
          bad('type', 'must be a number');
          break;
        }
        if (f.type !== 'number' && !Number.isInteger(v)) {
          bad('type', 'must be a whole number');
          break;
        }
        const min = f.type === 'port' ? (f.min ?? 1) : f.min;
        const max = f.type === 'port' ? (f.max ?? 65535) : f.max;
        if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
          bad('range', min !== undefined && max !== undefined ? `must be between ${min} and ${max}` : min !== undefined ? `must be at least ${min}` : `must be at most ${max}`);
        }
        break;
      }
      case 'enum':
        if (!(f.enum ?? []).includes(v)) bad('enum', `must be one of ${(f.enum ?? []).join(', ')}`);
        break;
      default: {
        if (typeof v !== 'string') {
          bad('type', 'must be a string');
          break;
        }
        const n = Array.from(v).length;
        if ((f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) {
          bad('length', `must be ${f.min ?? 0} to ${f.max ?? 65536} characters long`);
          break;
        }
        if (f.pattern && !new RegExp(`^(?:${f.pattern})$`).test(v)) bad('pattern', `must match ${f.pattern}`);
      }
    }
    values[f.name] = v;
  }
  return { errors, values };
}

// --- the simulated platform -----------------------------------------------------------

export function createMockState() {
  return { templates: loadTemplates(), services: new Map(), sessions: new Map(), tenantSubs: new Set() };
}

function resourcesOf(svc) {
  const t = svc.template.replace(/-/g, '_');
  return [`docker_image.${t}`, 'docker_volume.data', `docker_container.${t}`];
}

function outputsOf(svc, reveal) {
  const port = svc.values.port ?? 8080;
  const out = { endpoint: { sensitive: false, type: 'string', value: `http://127.0.0.1:${port}/` } };
  if ('greeting' in svc.values) out.greeting = { sensitive: false, type: 'string', value: svc.values.greeting };
  const tpl = svc.tpl;
  for (const f of tpl.inputs) {
    if (f.type === 'secret') out[f.name] = { sensitive: true, type: 'string', ...(reveal ? { value: svc.values[f.name] } : {}) };
  }
  return out;
}

function serviceView(svc) {
  const active = svc.jobs.find((j) => !FINAL.has(j.state));
  const last = active ?? svc.jobs[0];
  const masked = {};
  for (const f of svc.tpl.inputs) {
    if (!(f.name in svc.values)) continue;
    masked[f.name] = (f.type === 'secret' || f.sensitive) && svc.values[f.name] !== '' ? MASK : svc.values[f.name];
  }
  return {
    id: svc.id,
    name: svc.name,
    template: svc.template,
    template_version: svc.tpl.version,
    provider: svc.provider,
    created_at: svc.created,
    updated_at: svc.updated,
    ...(svc.expires ? { expires_at: svc.expires } : {}),
    inputs: masked,
    etag: svc.etag,
    status: {
      intent: svc.intent,
      drift: svc.signal?.drift ?? svc.drift?.status ?? 'not_checked',
      ...(svc.drift ? { drift_checked_at: svc.drift.checked_at } : {}),
      ...(svc.signal ? { drift_unconfirmed: true, drift_signal: svc.signal.text } : {}),
      busy: !!active,
      ...(last ? { last_job: { id: last.id, operation: last.operation, state: last.state } } : {}),
      ...(svc.needsRecovery ? { needs_recovery: true } : {}),
      ...(svc.stopped ? { stopped: true, stopped_at: svc.stopped } : {}),
    },
  };
}

// A deployed service's container log: lines kept, and the followers told of new ones.
function logLine(svc, text) {
  const line = { container: `spawnit-${svc.tenant}-${svc.id}`, stream: 'stdout', text };
  svc.log ??= [];
  svc.log.push(line);
  for (const sub of svc.logSubs ?? []) sub(line);
}

function jobView(svc, job, reveal = false) {
  const { events: _e, subs: _s, timer: _t, steps: _st, ...rest } = job;
  const v = { ...rest, last_seq: job.events.length ? job.events[job.events.length - 1].seq : 0 };
  if (job.outputs) v.outputs = reveal ? outputsOf(svc, true) : job.outputs;
  return v;
}

// Configuration revisions, as the server keeps them: secrets masked.
function maskedInputs(svc) {
  const masked = {};
  for (const f of svc.tpl.inputs) {
    if (!(f.name in svc.values)) continue;
    masked[f.name] = (f.type === 'secret' || f.sensitive) && svc.values[f.name] !== '' ? MASK : svc.values[f.name];
  }
  return masked;
}

function addRevision(svc, kind, extra = {}) {
  svc.revisions ??= [];
  const number = (svc.revisions[0]?.number ?? 0) + 1;
  const rev = { number, kind, inputs: maskedInputs(svc), template_version: svc.tpl.version, by: svc.tenant, at: now(), ...extra };
  svc.revisions.unshift(rev);
  return rev;
}

function compareRevisions(a, b) {
  const changes = [];
  if (a.template_version !== b.template_version) changes.push({ field: 'template_version', from: a.template_version, to: b.template_version });
  const names = [...new Set([...Object.keys(a.inputs), ...Object.keys(b.inputs)])].sort();
  for (const n of names) {
    if (JSON.stringify(a.inputs[n]) === JSON.stringify(b.inputs[n])) continue;
    changes.push({ field: `inputs.${n}`, from: a.inputs[n] ?? null, to: b.inputs[n] ?? null });
  }
  return changes;
}

function publishTenant(state, tenant, ev) {
  for (const sub of state.tenantSubs) if (sub.tenant === tenant) sub.write(ev);
}

function emit(state, svc, job, ev) {
  const e = { seq: job.events.length + 1, time: now(), ...ev };
  job.events.push(e);
  if (e.type === 'job_state') {
    job.state = e.state;
    if (e.state === 'running' && !job.started_at) job.started_at = e.time;
    if (FINAL.has(e.state)) job.ended_at = e.time;
    if (e.state === 'succeeded' && job.operation === 'apply') addRevision(svc, 'apply', { job: job.id, state_serial: job.events.length });
    publishTenant(state, svc.tenant, { kind: 'job', service: svc.id, job: { id: job.id, operation: job.operation, state: e.state }, time: e.time });
  }
  for (const s of job.subs) s(e);
}

function startJob(state, svc, operation, stepMs) {
  // stepMs: a function, so tests can slow jobs down while the server runs.
  const job = {
    id: rid('j-', 8),
    operation,
    service: { client: svc.tenant, service: svc.id },
    state: 'queued',
    created_at: now(),
    host: 'mock',
    pid: process.pid,
    events: [],
    subs: new Set(),
    steps: [],
    cancelAt: 0,
  };
  svc.jobs.unshift(job);
  const res = resourcesOf(svc);
  const steps = [];
  const step = (fn) => steps.push(fn);
  const E = (ev) => () => emit(state, svc, job, ev);
  step(E({ type: 'job_state', state: 'running' }));
  step(E({ type: 'log', level: 'info', message: `Initializing the working directory for ${svc.name}` }));
  step(E({ type: 'log', level: 'info', message: 'OpenTofu has been successfully initialized!' }));
  const deployed = svc.intent === 'applied';
  const missing = svc.broken ? res.filter((r) => r.startsWith('docker_container')) : [];
  if (operation === 'plan' || operation === 'apply') {
    const toCreate = deployed ? missing : res;
    for (const r of toCreate) step(E({ type: 'planned_change', resource: { address: r, action: 'create' } }));
    step(E({ type: 'change_summary', summary: { add: toCreate.length, change: 0, remove: 0, operation: 'plan' } }));
    if (operation === 'plan') {
      job.plan = {
        has_changes: toCreate.length > 0,
        add: toCreate.length,
        change: 0,
        destroy: 0,
        resources: toCreate.map((address) => ({ address, type: address.split('.')[0], action: 'create' })),
      };
      step(E({ type: 'job_state', state: 'succeeded' }));
    } else {
      for (const r of toCreate) {
        step(E({ type: 'apply_start', resource: { address: r, action: 'create' } }));
        if (r.startsWith('docker_container')) {
          step(E({ type: 'apply_progress', resource: { address: r, action: 'create', elapsed_seconds: 1 } }));
          if (svc.values.greeting === 'fail') {
            step(E({ type: 'apply_errored', resource: { address: r, action: 'create' }, message: 'container exited' }));
            step(E({ type: 'diagnostic', diagnostic: { severity: 'error', summary: 'Unable to start container', detail: 'container exited with code 1', address: r } }));
            step(() => {
              job.error = 'Unable to start container: container exited with code 1';
              emit(state, svc, job, { type: 'job_state', state: 'failed', message: job.error });
            });
            break;
          }
        }
        step(E({ type: 'apply_complete', resource: { address: r, action: 'create', elapsed_seconds: 1.4 } }));
      }
      if (svc.values.greeting !== 'fail') {
        step(() => {
          job.changes = { add: toCreate.length, change: 0, remove: 0, operation: 'apply' };
          emit(state, svc, job, { type: 'change_summary', summary: job.changes });
        });
        step(() => {
          job.outputs = outputsOf(svc, false);
          emit(state, svc, job, { type: 'outputs', outputs: job.outputs });
        });
        step(() => {
          svc.intent = 'applied';
          svc.broken = false;
          emit(state, svc, job, { type: 'job_state', state: 'succeeded' });
        });
      }
    }
  } else if (operation === 'destroy') {
    const present = deployed ? res.filter((r) => !missing.includes(r)) : [];
    for (const r of [...present].reverse()) {
      step(E({ type: 'apply_start', resource: { address: r, action: 'delete' } }));
      step(E({ type: 'apply_complete', resource: { address: r, action: 'delete', elapsed_seconds: 0.6 } }));
    }
    step(() => {
      job.changes = { add: 0, change: 0, remove: present.length, operation: 'destroy' };
      emit(state, svc, job, { type: 'change_summary', summary: job.changes });
    });
    step(() => {
      svc.intent = 'destroyed';
      svc.broken = false;
      emit(state, svc, job, { type: 'job_state', state: 'succeeded' });
      if (svc.deleteAfterDestroy) {
        state.services.delete(svc.id);
        publishTenant(state, svc.tenant, { kind: 'service', service: svc.id, message: 'deleted', time: now() });
      }
    });
  } else if (operation === 'drift') {
    for (const r of res) {
      step(E({ type: 'refresh_start', resource: { address: r } }));
      step(E({ type: 'refresh_complete', resource: { address: r } }));
    }
    for (const r of missing) step(E({ type: 'resource_drift', resource: { address: r, action: 'delete' } }));
    step(() => {
      const resources = res.map((address) => ({
        address,
        type: address.split('.')[0],
        status: missing.includes(address) ? 'deleted' : 'in_sync',
        ...(missing.includes(address) ? { planned: 'create' } : {}),
      }));
      const status = svc.intent !== 'applied' ? 'not_checked' : missing.length ? 'missing' : 'in_sync';
      svc.drift = { status, intent: svc.intent, resources, checked_at: now(), duration_ns: 1e9 };
      delete svc.signal;
      job.drift = svc.drift;
      emit(state, svc, job, { type: 'log', level: 'info', message: `Drift check: ${status}` });
      emit(state, svc, job, { type: 'job_state', state: 'succeeded' });
      publishTenant(state, svc.tenant, { kind: 'drift', service: svc.id, drift: status, time: now() });
    });
  }
  job.steps = steps;
  const tick = () => {
    if (FINAL.has(job.state)) return;
    if (job.cancelAt && Date.now() >= job.cancelAt) {
      emit(state, svc, job, { type: 'log', level: 'warn', message: 'Stopped on request' });
      emit(state, svc, job, { type: 'job_state', state: 'cancelled' });
      return;
    }
    const s = job.steps.shift();
    if (s) s();
    if (!FINAL.has(job.state)) job.timer = setTimeout(tick, stepMs());
  };
  job.timer = setTimeout(tick, stepMs());
  return job;
}

// --- HTTP --------------------------------------------------------------------------------

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png' };

function serveStatic(dir, req, res) {
  const url = new URL(req.url, 'http://x');
  const rel = normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '');
  const p = join(dir, rel);
  if (!p.startsWith(dir)) return apiError(res, 400, 'bad_request', 'bad path');
  if (rel && existsSync(p) && statSync(p).isFile()) {
    res.writeHead(200, { 'Content-Type': TYPES[extname(p)] ?? 'application/octet-stream' });
    return res.end(readFileSync(p));
  }
  if (extname(rel)) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    return res.end('not found');
  }
  const index = join(dir, 'index.html');
  if (!existsSync(index)) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    return res.end('<p>The UI is not built: run npm run build.</p>');
  }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
  res.end(readFileSync(index));
}

function sseHeaders(res) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
  res.write(': hello\n\n');
}

const LOGIN_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Mock identity provider</title></head>
<body><h1>Mock identity provider</h1><form method="post" action="/__mock/login">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Log in</button></form></body></html>`;

export function startMockServer(opts = {}) {
  const port = Number(opts.port ?? process.env.MOCK_PORT ?? 8090);
  const auth = opts.auth ?? process.env.MOCK_AUTH ?? 'single';
  const defaultStepMs = Number(opts.stepMs ?? process.env.MOCK_STEP_MS ?? 120);
  let currentStepMs = defaultStepMs;
  const stepMs = () => currentStepMs;
  const coolOff = Number(opts.coolOffMs ?? process.env.MOCK_COOL_OFF_MS ?? 1500);
  const staticDir = resolve(opts.staticDir ?? process.env.MOCK_STATIC ?? resolve(here, '../../dist'));
  const state = createMockState();
  const log = opts.quiet ? () => undefined : (...a) => console.error('[mock]', ...a);

  const identify = (req) => {
    if (auth === 'single') return { subject: 'local', tenant: 'local', single_user: true, csrf_token: '' };
    const m = /(?:^|;\s*)spawnit_session=([a-f0-9]+)/.exec(req.headers.cookie ?? '');
    return m ? state.sessions.get(m[1]) ?? null : null;
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    try {
      if (path.startsWith('/__mock/')) return await mockHooks(req, res, url);
      if (path === '/auth/login') {
        if (auth === 'single') {
          res.writeHead(302, { Location: '/' });
          return res.end();
        }
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        return res.end(LOGIN_PAGE);
      }
      if (path === '/auth/logout' && method === 'POST') {
        const who = identify(req);
        if (who && !who.single_user && req.headers['x-csrf-token'] !== who.csrf_token) return apiError(res, 403, 'csrf_failed', 'CSRF token missing or wrong');
        const m = /(?:^|;\s*)spawnit_session=([a-f0-9]+)/.exec(req.headers.cookie ?? '');
        if (m) state.sessions.delete(m[1]);
        res.writeHead(204, { 'Set-Cookie': 'spawnit_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax' });
        return res.end();
      }
      if (!path.startsWith('/api/')) return serveStatic(staticDir, req, res);

      if (url.searchParams.has('access_token')) return apiError(res, 401, 'unauthenticated', 'tokens are not accepted in URLs');
      const who = identify(req);
      if (!who) return apiError(res, 401, 'unauthenticated', 'sign in first');
      if (method !== 'GET' && method !== 'HEAD') {
        if (!who.single_user && req.headers['x-csrf-token'] !== who.csrf_token) return apiError(res, 403, 'csrf_failed', 'CSRF token missing or wrong');
        const ct = req.headers['content-type'] ?? '';
        if ((req.headers['content-length'] ?? '0') !== '0' && !ct.startsWith('application/json')) {
          return apiError(res, 415, 'unsupported_media_type', 'send application/json');
        }
      }
      return await routeAPI(req, res, url, who);
    } catch (err) {
      if (err?.status === 413) return apiError(res, 413, 'too_large', 'the body is too large');
      if (err?.status === 400) return apiError(res, 400, 'bad_request', err.message);
      log('error', err);
      return apiError(res, 500, 'internal', 'internal error');
    }
  });

  async function mockHooks(req, res, url) {
    const path = url.pathname;
    if (path === '/__mock/login' && req.method === 'POST') {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const user = form.get('username') || 'test-user@localhost';
      const sid = randomBytes(16).toString('hex');
      state.sessions.set(sid, {
        subject: 'id1',
        tenant: 'id1',
        name: 'Test User',
        email: user.includes('@') ? user : `${user}@localhost`,
        single_user: false,
        csrf_token: randomBytes(16).toString('hex'),
      });
      res.writeHead(303, { Location: '/', 'Set-Cookie': `spawnit_session=${sid}; Path=/; HttpOnly; SameSite=Lax` });
      return res.end();
    }
    const m = /^\/__mock\/break\/([^/]+)$/.exec(path);
    if (m && req.method === 'POST') {
      const svc = state.services.get(m[1]);
      if (!svc) return apiError(res, 404, 'not_found', 'no such service');
      svc.broken = true;
      res.writeHead(204);
      return res.end();
    }
    const sg = /^\/__mock\/signal\/([^/]+)$/.exec(path);
    if (sg && req.method === 'POST') {
      const svc = state.services.get(sg[1]);
      if (!svc) return apiError(res, 404, 'not_found', 'no such service');
      svc.broken = true;
      svc.signal = { drift: 'missing', text: `container spawnit-${svc.tenant}-${svc.id} was removed` };
      publishTenant(state, svc.tenant, { kind: 'drift', service: svc.id, drift: 'missing', unconfirmed: true, message: svc.signal.text, time: now() });
      res.writeHead(204);
      return res.end();
    }
    const lg = /^\/__mock\/log\/([^/]+)$/.exec(path);
    if (lg && req.method === 'POST') {
      // As a request to the service would: it writes a line to its log.
      const svc = state.services.get(lg[1]);
      if (!svc) return apiError(res, 404, 'not_found', 'no such service');
      logLine(svc, url.searchParams.get('text') ?? 'hello');
      res.writeHead(204);
      return res.end();
    }
    const r = /^\/__mock\/needs-recovery\/([^/]+)$/.exec(path);
    if (r && req.method === 'POST') {
      const svc = state.services.get(r[1]);
      if (!svc) return apiError(res, 404, 'not_found', 'no such service');
      svc.needsRecovery = true;
      publishTenant(state, svc.tenant, { kind: 'service', service: svc.id, message: 'needs recovery', time: now() });
      res.writeHead(204);
      return res.end();
    }
    if (path === '/__mock/state') {
      return send(res, 200, { services: [...state.services.values()].map(serviceView) });
    }
    return apiError(res, 404, 'not_found', 'no such hook');
  }

  async function routeAPI(req, res, url, who) {
    const method = req.method;
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent); // api v1 ...
    const p = parts.slice(2);
    const tenant = who.tenant;
    const mine = (id) => {
      const s = state.services.get(id);
      return s && s.tenant === tenant ? s : null;
    };

    if (p[0] === 'me' && p.length === 1) return send(res, 200, who);

    if (p[0] === 'catalog') {
      if (p.length === 1) return send(res, 200, { templates: [...state.templates.values()].sort((a, b) => a.id.localeCompare(b.id)) });
      const t = state.templates.get(p[1]);
      if (t && p.length === 3 && p[2] === 'versions') {
        // One published version per template here: the mock publishes no others.
        return send(res, 200, { template: t.id, versions: [{ version: t.version, published_at: now(), published_by: 'builtin', digest: 'mock', latest: true }] });
      }
      return t ? send(res, 200, t) : apiError(res, 404, 'not_found', 'no such template');
    }

    if (p[0] === 'events' && p.length === 1) {
      sseHeaders(res);
      let n = 0;
      const sub = {
        tenant,
        write: (ev) => res.write(`id: ${++n}\nevent: status\ndata: ${JSON.stringify(ev)}\n\n`),
      };
      state.tenantSubs.add(sub);
      const ka = setInterval(() => res.write(': keep-alive\n\n'), 15000);
      req.on('close', () => {
        clearInterval(ka);
        state.tenantSubs.delete(sub);
      });
      return;
    }

    if (p[0] === 'quota' && p.length === 1 && method === 'GET') {
      const n = [...state.services.values()].filter((s) => s.tenant === tenant).length;
      const limits = { services: 20, deployed: 0, running_jobs: 0 };
      return send(res, 200, { tenant, limits, usage: { services: n, deployed: 0, running_jobs: 0 }, defaults: limits, override: {} });
    }

    if (p[0] !== 'services') return apiError(res, 404, 'not_found', 'no such route');

    if (p.length === 1) {
      if (method === 'GET') {
        const q = (url.searchParams.get('q') ?? '').trim().toLowerCase();
        const all = [...state.services.values()]
          .filter((s) => s.tenant === tenant && (!q || [s.id, s.name, s.template].some((x) => x.toLowerCase().includes(q))))
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
          .map(serviceView);
        return page(res, url, all, 'services', (s) => s.id);
      }
      if (method === 'POST') {
        const body = await readJSON(req);
        if (!body || typeof body !== 'object') return apiError(res, 400, 'bad_request', 'the body must be a JSON object');
        const tpl = state.templates.get(body.template);
        const fields = [];
        if (!tpl) fields.push({ field: 'template', code: 'invalid', reason: 'no such template' });
        const name = typeof body.name === 'string' ? body.name.trim() : '';
        if (Array.from(name).length < 1 || Array.from(name).length > 64 || /[\r\n]/.test(name)) {
          fields.push({ field: 'name', code: 'length', reason: 'must be one line of 1 to 64 characters' });
        }
        // A rule the browser cannot check itself, so tests see a server error placed by the UI.
        if (name === 'taken') fields.push({ field: 'name', code: 'invalid', reason: 'is already used by another service' });
        if (body.provider && body.provider !== 'docker') fields.push({ field: 'provider', code: 'invalid', reason: `the template has no module for provider "${body.provider}"` });
        if (body.expires_at !== undefined && !(new Date(body.expires_at).getTime() > Date.now())) {
          fields.push({ field: 'expires_at', code: 'invalid', reason: 'must be a time in the future' });
        }
        let values = {};
        if (tpl) {
          const v = validateInputs(tpl, body.inputs ?? {});
          fields.push(...v.errors);
          values = v.values;
        }
        if (fields.length) {
          return apiError(res, 400, 'validation_failed', `${fields.length} ${fields.length === 1 ? 'field is' : 'fields are'} invalid`, fields);
        }
        const t = now();
        const svc = {
          id: rid('s', 5),
          tenant,
          name,
          template: tpl.id,
          tpl,
          provider: 'docker',
          created: t,
          updated: t,
          expires: body.expires_at,
          values,
          etag: rid('"e', 6) + '"',
          intent: '',
          drift: null,
          jobs: [],
          broken: false,
        };
        state.services.set(svc.id, svc);
        addRevision(svc, 'create');
        publishTenant(state, tenant, { kind: 'service', service: svc.id, message: 'created', time: t });
        return send(res, 201, serviceView(svc), { ETag: svc.etag });
      }
      return apiError(res, 405, 'bad_request', 'method not allowed');
    }

    const svc = mine(p[1]);
    if (!svc) return apiError(res, 404, 'not_found', 'no such service');
    const active = () => svc.jobs.find((j) => !FINAL.has(j.state));
    const needsRecovery = () =>
      apiError(res, 409, 'needs_recovery', `the service needs recovery: tofu could not save its state (kept at clients/${tenant}/${svc.id}/errored.tfstate)`);

    if (p.length === 2) {
      if (method === 'GET') return send(res, 200, serviceView(svc), { ETag: svc.etag });
      if (method === 'DELETE') {
        if (active()) return apiError(res, 409, 'busy', 'a job is running for this service');
        if (svc.intent === 'applied') {
          if (url.searchParams.get('destroy') !== 'true') return apiError(res, 409, 'resources_exist', 'the service is deployed');
          if (svc.needsRecovery) return needsRecovery();
          svc.deleteAfterDestroy = true;
          const job = startJob(state, svc, 'destroy', stepMs);
          return send(res, 202, jobView(svc, job));
        }
        state.services.delete(svc.id);
        publishTenant(state, tenant, { kind: 'service', service: svc.id, message: 'deleted', time: now() });
        res.writeHead(204);
        return res.end();
      }
    }

    if (p.length === 3 && method === 'POST' && ['plan', 'apply', 'destroy', 'drift'].includes(p[2])) {
      if (active()) return apiError(res, 409, 'locked', 'another job is running for this service');
      // As the engine: only operations that change state are refused.
      if (svc.needsRecovery && (p[2] === 'apply' || p[2] === 'destroy')) return needsRecovery();
      const job = startJob(state, svc, p[2], stepMs);
      return send(res, 202, jobView(svc, job));
    }
    if (p.length === 3 && p[2] === 'recover' && method === 'POST') {
      if (active()) return apiError(res, 409, 'busy', 'a job is running for this service');
      svc.needsRecovery = false;
      svc.updated = now();
      publishTenant(state, tenant, { kind: 'service', service: svc.id, message: 'recovered', time: svc.updated });
      return send(res, 200, serviceView(svc));
    }
    if (p.length === 3 && ['stop', 'start', 'restart'].includes(p[2]) && method === 'POST') {
      if (active()) return apiError(res, 409, 'busy', 'a job is running for this service');
      if (svc.intent !== 'applied') return apiError(res, 409, 'not_deployed', 'the service is not deployed');
      svc.stopped = p[2] === 'stop' ? now() : undefined;
      logLine(svc, `mock: ${p[2]}`);
      if (p[2] === 'stop') for (const end of svc.logEnds ?? []) end();
      publishTenant(state, tenant, { kind: 'service', service: svc.id, message: p[2], time: now() });
      return send(res, 200, serviceView(svc));
    }
    if (p.length === 3 && p[2] === 'logs' && method === 'GET') {
      if (svc.intent !== 'applied') return apiError(res, 409, 'not_deployed', 'the service is not deployed');
      svc.log ??= [{ container: `spawnit-${tenant}-${svc.id}`, stream: 'stdout', text: 'mock: listening on :8080' }];
      const tail = Number(url.searchParams.get('tail') ?? 100);
      const last = svc.log.slice(Math.max(0, svc.log.length - tail));
      if (url.searchParams.get('follow') !== 'true') return send(res, 200, { lines: last });
      sseHeaders(res);
      const write = (l) => res.write(`event: log\ndata: ${JSON.stringify(l)}\n\n`);
      last.forEach(write);
      svc.logSubs ??= new Set();
      svc.logEnds ??= new Set();
      const end = () => {
        res.write('event: end\ndata: {}\n\n');
        res.end();
      };
      if (svc.stopped) return end();
      svc.logSubs.add(write);
      svc.logEnds.add(end);
      req.on('close', () => {
        svc.logSubs.delete(write);
        svc.logEnds.delete(end);
      });
      return;
    }
    if (p.length === 3 && p[2] === 'drift' && method === 'GET') {
      return send(res, 200, svc.drift ?? { status: 'not_checked', intent: svc.intent, resources: [], checked_at: '0001-01-01T00:00:00Z', duration_ns: 0 });
    }
    if (p.length === 3 && p[2] === 'revisions' && method === 'GET') {
      return send(res, 200, { revisions: svc.revisions ?? [], kept: 50 });
    }
    if (p.length === 4 && p[2] === 'revisions' && p[3] === 'compare' && method === 'GET') {
      const at = (k) => (svc.revisions ?? []).find((r) => r.number === Number(url.searchParams.get(k)));
      const a = at('from');
      const b = at('to');
      if (!a || !b) return apiError(res, 404, 'not_found', 'no such revision');
      return send(res, 200, { from: a.number, to: b.number, changes: compareRevisions(a, b) });
    }
    if (p.length === 5 && p[2] === 'revisions' && p[4] === 'restore' && method === 'POST') {
      const rev = (svc.revisions ?? []).find((r) => r.number === Number(p[3]));
      if (!rev) return apiError(res, 404, 'not_found', 'no such revision');
      if (active()) return apiError(res, 409, 'locked', 'another job is running for this service');
      for (const [k, v] of Object.entries(rev.inputs)) if (v !== MASK) svc.values[k] = v;
      svc.updated = now();
      svc.etag = rid('"e', 6) + '"';
      const restored = addRevision(svc, 'restore', { restored_from: rev.number });
      const job = startJob(state, svc, 'plan', stepMs);
      return send(res, 202, { service: serviceView(svc), revision: restored, job: jobView(svc, job) }, { ETag: svc.etag });
    }
    if (p.length === 3 && p[2] === 'jobs' && method === 'GET') {
      return page(res, url, svc.jobs.map((j) => jobView(svc, j)), 'jobs', (j) => j.id);
    }
    if (p.length >= 4 && p[2] === 'jobs') {
      const job = svc.jobs.find((j) => j.id === p[3]);
      if (!job) return apiError(res, 404, 'not_found', 'no such job');
      if (p.length === 4 && method === 'GET') return send(res, 200, jobView(svc, job, url.searchParams.get('reveal') === 'true'));
      if (p.length === 5 && p[4] === 'cancel' && method === 'POST') {
        const body = (await readJSON(req)) ?? {};
        if (FINAL.has(job.state)) return apiError(res, 409, 'job_finished', 'the job has already finished');
        if (body.force) {
          if (!job.cancel_requested_at || Date.now() - new Date(job.cancel_requested_at).getTime() < coolOff) {
            return apiError(res, 409, 'cool_off', 'forced cancel is allowed only after the cool-off');
          }
          clearTimeout(job.timer);
          emit(state, svc, job, { type: 'log', level: 'warn', message: 'Killed on request' });
          emit(state, svc, job, { type: 'job_state', state: 'cancelled' });
          return send(res, 202, jobView(svc, job));
        }
        if (!job.cancel_requested_at) {
          job.cancel_requested_at = now();
          // Graceful: stops after a few more steps.
          job.cancelAt = Date.now() + Number(opts.gracefulMs ?? process.env.MOCK_GRACEFUL_MS ?? stepMs() * 3);
          emit(state, svc, job, { type: 'job_state', state: 'cancelling' });
        }
        return send(res, 202, jobView(svc, job));
      }
      if (p.length === 5 && p[4] === 'events' && method === 'GET') {
        const lastId = Number(req.headers['last-event-id'] ?? '');
        const after = Number.isFinite(lastId) && req.headers['last-event-id'] ? lastId : Number(url.searchParams.get('after') ?? 0);
        if ((req.headers.accept ?? '').includes('application/json') && !(req.headers.accept ?? '').includes('text/event-stream')) {
          return send(res, 200, { events: job.events.filter((e) => e.seq > after) });
        }
        sseHeaders(res);
        const write = (e) => res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
        const finish = () => {
          res.write('event: end\ndata: {}\n\n');
          res.end();
        };
        for (const e of job.events) if (e.seq > after) write(e);
        if (FINAL.has(job.state)) return finish();
        const sub = (e) => {
          if (e.seq <= after) return;
          write(e);
          if (e.type === 'job_state' && FINAL.has(e.state)) {
            job.subs.delete(sub);
            finish();
          }
        };
        job.subs.add(sub);
        const ka = setInterval(() => res.write(': keep-alive\n\n'), 15000);
        req.on('close', () => {
          clearInterval(ka);
          job.subs.delete(sub);
        });
        return;
      }
    }
    return apiError(res, 404, 'not_found', 'no such route');
  }

  return new Promise((resolveStart) => {
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      const url = `http://127.0.0.1:${addr.port}`;
      log(`listening on ${url} (auth: ${auth}, UI from ${staticDir})`);
      resolveStart({
        url,
        state,
        setStepMs: (ms) => {
          currentStepMs = ms ?? defaultStepMs;
        },
        close: () =>
          new Promise((r) => {
            for (const s of state.services.values()) for (const j of s.jobs) clearTimeout(j.timer);
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const m = await startMockServer();
  console.log(m.url);
}
