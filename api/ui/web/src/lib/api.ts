// The HTTP client of the UI. Every request goes to the same origin with the session
// cookie; state-changing ones carry the CSRF token from GET /api/v1/me and
// Content-Type: application/json. Tokens never go into URLs.

import { errorFromResponse, NetworkError, ApiError } from './errors';
import type { Page } from './listing';
import type {
  DriftReport,
  Job,
  JobEvent,
  JobList,
  Me,
  QuotaUsage,
  Restore,
  Revision,
  RevisionComparison,
  Service,
  ServiceList,
  Template,
  TemplateVersion,
  Upgrade,
} from './types';

let csrfToken = '';
let onUnauthenticated: (() => void) | null = null;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token ?? '';
}

/** Called once when any request answers 401, so the app can show the sign-in page. */
export function setUnauthenticatedHandler(fn: (() => void) | null): void {
  onUnauthenticated = fn;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Do not call the unauthenticated handler on 401 (GET /me decides by itself). */
  quiet401?: boolean;
}

export interface Response<T> {
  data: T;
  status: number;
  headers: Headers;
}

export function buildURL(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The headers of a request: JSON, plus CSRF and Content-Type on state-changing methods. */
export function requestHeaders(method: string, extra?: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { Accept: 'application/json', ...extra };
  if (!SAFE_METHODS.has(method.toUpperCase())) {
    h['Content-Type'] = 'application/json';
    if (csrfToken) h['X-CSRF-Token'] = csrfToken;
  }
  return h;
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<Response<T>> {
  try {
    return await requestOnce<T>(method, path, opts);
  } catch (err) {
    // A stale CSRF token (the session was renewed in another tab): fetch the current one
    // and try once more. Job-starting requests carry the same Idempotency-Key, so a
    // retry can never start a second job.
    if (err instanceof ApiError && err.code === 'csrf_failed' && path !== '/api/v1/me') {
      const me = await requestOnce<{ csrf_token?: string }>('GET', '/api/v1/me', { quiet401: opts.quiet401 });
      if (me.data?.csrf_token && me.data.csrf_token !== csrfToken) {
        setCsrfToken(me.data.csrf_token);
        return requestOnce<T>(method, path, opts);
      }
    }
    throw err;
  }
}

async function requestOnce<T>(method: string, path: string, opts: RequestOptions): Promise<Response<T>> {
  let res: globalThis.Response;
  try {
    res = await fetch(buildURL(path, opts.query), {
      method,
      credentials: 'same-origin',
      headers: requestHeaders(method, opts.headers),
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new NetworkError();
  }
  let body: unknown = undefined;
  const text = res.status === 204 ? '' : await res.text();
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!res.ok) {
    const err = errorFromResponse(res.status, body);
    if (res.status === 401 && !opts.quiet401 && onUnauthenticated) onUnauthenticated();
    throw err;
  }
  return { data: body as T, status: res.status, headers: res.headers };
}

async function get<T>(path: string, opts?: RequestOptions): Promise<T> {
  return (await request<T>('GET', path, opts)).data;
}

const svc = (id: string) => `/api/v1/services/${encodeURIComponent(id)}`;
const job = (service: string, id: string) => `${svc(service)}/jobs/${encodeURIComponent(id)}`;

/** A fresh Idempotency-Key per user action: a retried request starts one job, not two. */
export function idempotencyKey(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export type JobAction = 'plan' | 'apply' | 'destroy' | 'drift' | 'accept' | 'remediate';

export type ContainerAction = 'stop' | 'start' | 'restart';

/** The body of PATCH /api/v1/services/{service}: absent fields stay unchanged, expires_at null removes the expiry. */
export interface ServiceSettings {
  expires_at?: string | null;
  auto_remediate?: boolean;
}

export const api = {
  me: (signal?: AbortSignal) => get<Me>('/api/v1/me', { signal, quiet401: true }),
  catalog: async (signal?: AbortSignal) => (await get<{ templates: Template[] | null }>('/api/v1/catalog', { signal })).templates ?? [],
  template: (id: string, signal?: AbortSignal) => get<Template>(`/api/v1/catalog/${encodeURIComponent(id)}`, { signal }),
  services: async (signal?: AbortSignal) => (await get<{ services: Service[] | null }>('/api/v1/services', { signal })).services ?? [],
  /** One page of the services list: q searches id, name and template on the server; cursor is the previous page's next_cursor. */
  servicesPage: async (page: { limit: number; cursor?: string; q?: string }, signal?: AbortSignal): Promise<Page<Service>> => {
    const body = await get<ServiceList>('/api/v1/services', {
      signal,
      query: { limit: page.limit, cursor: page.cursor || undefined, q: page.q || undefined },
    });
    return { items: body.services ?? [], next_cursor: body.next_cursor };
  },
  service: (id: string, signal?: AbortSignal) => get<Service>(svc(id), { signal }),
  createService: async (body: {
    template: string;
    target?: string;
    name: string;
    inputs: Record<string, unknown>;
    expires_at?: string;
  }) => (await request<Service>('POST', '/api/v1/services', { body })).data,
  /** Settings (expiry, auto-remediation): no If-Match, each field sent replaces one setting. */
  updateSettings: async (id: string, body: ServiceSettings) => (await request<Service>('PATCH', svc(id), { body })).data,
  deleteService: async (id: string, destroy: boolean): Promise<Job | null> => {
    const r = await request<Job | undefined>('DELETE', svc(id), { query: destroy ? { destroy: true } : undefined });
    return r.status === 202 && r.data ? r.data : null;
  },
  startJob: async (service: string, action: JobAction) =>
    (await request<Job>('POST', `${svc(service)}/${action}`, { headers: { 'Idempotency-Key': idempotencyKey() } })).data,
  jobs: async (service: string, signal?: AbortSignal) => (await get<{ jobs: Job[] | null }>(`${svc(service)}/jobs`, { signal })).jobs ?? [],
  /** One page of a service's jobs, newest first; cursor is the previous page's next_cursor. */
  jobsPage: async (service: string, page: { limit: number; cursor?: string }, signal?: AbortSignal): Promise<Page<Job>> => {
    const body = await get<JobList>(`${svc(service)}/jobs`, { signal, query: { limit: page.limit, cursor: page.cursor || undefined } });
    return { items: body.jobs ?? [], next_cursor: body.next_cursor };
  },
  job: (service: string, id: string, reveal = false, signal?: AbortSignal) =>
    get<Job>(job(service, id), { signal, query: reveal ? { reveal: true } : undefined }),
  jobEvents: async (service: string, id: string, after = 0, signal?: AbortSignal): Promise<JobEvent[]> => {
    const body = await get<JobEvent[] | { events: JobEvent[] | null } | null>(`${job(service, id)}/events`, {
      signal,
      query: after > 0 ? { after } : undefined,
    });
    // "the events so far as JSON": a bare array or an object wrapping it.
    if (Array.isArray(body)) return body;
    return body?.events ?? [];
  },
  jobStreamURL: (service: string, id: string, after: number) => buildURL(`${job(service, id)}/events`, after > 0 ? { after } : undefined),
  cancel: async (service: string, id: string, force: boolean) =>
    (await request<Job>('POST', `${job(service, id)}/cancel`, { body: { force } })).data,
  versions: async (template: string, signal?: AbortSignal) =>
    (await get<{ versions: TemplateVersion[] | null }>(`/api/v1/catalog/${encodeURIComponent(template)}/versions`, { signal })).versions ?? [],
  /** Plans (apply false) or applies the service's move to another version of its template. */
  upgrade: async (service: string, version: string, apply: boolean) =>
    (await request<Upgrade>('POST', `${svc(service)}/upgrade${apply ? '' : '/plan'}`, { body: { version } })).data,
  drift: (service: string, signal?: AbortSignal) => get<DriftReport>(`${svc(service)}/drift`, { signal }),
  /**
   * Clears needs_recovery once an operator repaired the service's OpenTofu state: applies
   * and destroys are accepted again. Answers the service; 409 busy while a job runs.
   */
  quota: (signal?: AbortSignal) => get<QuotaUsage>('/api/v1/quota', { signal }),
  recover: async (service: string) => (await request<Service>('POST', `${svc(service)}/recover`)).data,
  /** The service's configuration revisions, newest first. */
  revisions: async (service: string, signal?: AbortSignal) =>
    (await get<{ revisions: Revision[] | null }>(`${svc(service)}/revisions`, { signal })).revisions ?? [],
  compareRevisions: (service: string, from: number, to: number, signal?: AbortSignal) =>
    get<RevisionComparison>(`${svc(service)}/revisions/compare`, { signal, query: { from, to } }),
  /** Sets the inputs back to a revision's and starts a plan (nothing is applied); etag guards against a change meanwhile. */
  restoreRevision: async (service: string, revision: number, etag?: string) =>
    (await request<Restore>('POST', `${svc(service)}/revisions/${revision}/restore`, { headers: etag ? { 'If-Match': `"${etag}"` } : undefined })).data,
  /** Stops, starts or restarts a deployed Docker service's containers; answers the service. */
  container: async (service: string, action: ContainerAction) => (await request<Service>('POST', `${svc(service)}/${action}`)).data,
  /** The live container log: `log` events (the last `tail` lines, then each new one), `end` when the containers stop. */
  logStreamURL: (service: string, tail: number) => buildURL(`${svc(service)}/logs`, { follow: true, tail }),
  logout: async () => {
    // A 401 here just means the session already was gone; any other failure (503: the
    // server could not reach its store) leaves the session in place and is shown.
    try {
      await request<unknown>('POST', '/auth/logout', { quiet401: true });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) throw err;
    }
  },
};
