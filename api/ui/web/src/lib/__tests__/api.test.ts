import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, request, setCsrfToken, setUnauthenticatedHandler } from '../api';
import { ApiError, NetworkError } from '../errors';

type Call = { url: string; init: RequestInit };

function fakeFetch(answers: ((c: Call) => Response)[]) {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    const c = { url, init };
    calls.push(c);
    const next = answers.shift();
    if (!next) throw new Error('unexpected request ' + url);
    return next(c);
  });
  return calls;
}

const json = (status: number, body: unknown) => () =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken('');
  setUnauthenticatedHandler(null);
});

describe('request', () => {
  it('sends JSON with the CSRF token and never puts it in the URL', async () => {
    setCsrfToken('t1');
    const calls = fakeFetch([json(202, { id: 'j1' })]);
    const job = await api.startJob('s1', 'apply');
    expect(job.id).toBe('j1');
    const h = calls[0].init.headers as Record<string, string>;
    expect(calls[0].url).toBe('/api/v1/services/s1/apply');
    expect(calls[0].init.method).toBe('POST');
    expect(h['X-CSRF-Token']).toBe('t1');
    expect(h['Content-Type']).toBe('application/json');
    expect(h['Idempotency-Key']).toMatch(/^[0-9a-f]{32}$/);
    expect(calls[0].init.credentials).toBe('same-origin');
  });

  it('renews a stale CSRF token once and retries with the same Idempotency-Key', async () => {
    setCsrfToken('old');
    const calls = fakeFetch([
      json(403, { error: { code: 'csrf_failed', message: 'csrf' } }),
      json(200, { subject: 's', tenant: 't', single_user: false, csrf_token: 'new' }),
      json(202, { id: 'j2' }),
    ]);
    const job = await api.startJob('s1', 'plan');
    expect(job.id).toBe('j2');
    const first = calls[0].init.headers as Record<string, string>;
    const retry = calls[2].init.headers as Record<string, string>;
    expect(retry['X-CSRF-Token']).toBe('new');
    expect(retry['Idempotency-Key']).toBe(first['Idempotency-Key']);
  });

  it('turns a 401 into the signed-out state', async () => {
    let signedOut = 0;
    setUnauthenticatedHandler(() => signedOut++);
    fakeFetch([json(401, { error: { code: 'unauthenticated', message: 'no session' } })]);
    await expect(api.services()).rejects.toBeInstanceOf(ApiError);
    expect(signedOut).toBe(1);
    // GET /me decides by itself: no handler call.
    fakeFetch([json(401, { error: { code: 'unauthenticated', message: 'no session' } })]);
    await expect(api.me()).rejects.toMatchObject({ status: 401 });
    expect(signedOut).toBe(1);
  });

  it('reports an unreachable server as a sentence', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(request('GET', '/api/v1/services')).rejects.toBeInstanceOf(NetworkError);
  });

  it('reads job events as an array or wrapped', async () => {
    fakeFetch([json(200, { events: [{ seq: 1, type: 'log', time: '' }] }), json(200, [{ seq: 2, type: 'log', time: '' }])]);
    expect((await api.jobEvents('s', 'j')).map((e) => e.seq)).toEqual([1]);
    expect((await api.jobEvents('s', 'j', 1)).map((e) => e.seq)).toEqual([2]);
  });

  it('marks a service as recovered and answers the service', async () => {
    setCsrfToken('t1');
    const calls = fakeFetch([json(200, { id: 's 1', name: 'Echo', status: { intent: 'applied', drift: 'in_sync', busy: false } })]);
    const svc = await api.recover('s 1');
    expect(svc.id).toBe('s 1');
    expect(svc.status.needs_recovery).toBeUndefined();
    expect(calls[0].url).toBe('/api/v1/services/s%201/recover');
    expect(calls[0].init.method).toBe('POST');
    expect(calls[0].init.body).toBeUndefined();
    const h = calls[0].init.headers as Record<string, string>;
    expect(h['X-CSRF-Token']).toBe('t1');
    // Not a job: nothing to de-duplicate, and clearing the mark twice is harmless.
    expect(h['Idempotency-Key']).toBeUndefined();
  });

  it('refuses to mark a busy service as recovered with a sentence', async () => {
    fakeFetch([json(409, { error: { code: 'busy', message: 'a job is running for this service' } })]);
    const err = await api.recover('s1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: 'busy' });
    expect((err as ApiError).message).toBe('This service is busy with a job. Wait until it has finished, then try again.');
  });

  it('deletes with or without destroy', async () => {
    const calls = fakeFetch([() => new Response(null, { status: 204 }), json(202, { id: 'd1', operation: 'destroy' })]);
    expect(await api.deleteService('s1', false)).toBeNull();
    expect((await api.deleteService('s1', true))?.id).toBe('d1');
    expect(calls[1].url).toBe('/api/v1/services/s1?destroy=true');
  });
});
