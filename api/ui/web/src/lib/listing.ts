// The paged lists of the UI: the services list (GET /api/v1/services?limit&cursor&q)
// and a service's job history (GET .../jobs?limit&cursor). Pure functions, so the
// screens only wire them to requests and state.
//
// Cursors only go forward, and the server does not count: the lists grow with "Show
// more" rather than numbered pages. The rows shown are the pages read so far, in the
// server's order (services by id, jobs newest first).

import type { DriftReport, DriftStatus, Job, Service, StatusEvent } from './types';

/** Rows per page of the services list. */
export const SERVICES_PAGE = 50;
/** Jobs per page of a service's history. */
export const JOBS_PAGE = 20;
/** The server's largest page. */
export const MAX_PAGE = 500;

/** What the services list's URL holds: the search and (for tests and links) the page size. */
export interface ListQuery {
  q: string;
  limit: number;
}

/** parseListQuery reads ?q= and ?limit= (1..500, otherwise the default) from a location's search. */
export function parseListQuery(search: string): ListQuery {
  const p = new URLSearchParams(search);
  const q = (p.get('q') ?? '').trim();
  const raw = p.get('limit');
  const n = raw !== null && /^\d+$/.test(raw) ? Number(raw) : NaN;
  return { q, limit: n >= 1 && n <= MAX_PAGE ? n : SERVICES_PAGE };
}

/** listSearch is the search part of the list's URL ("" when nothing differs from the defaults). */
export function listSearch(query: ListQuery): string {
  const p = new URLSearchParams();
  const q = query.q.trim();
  if (q) p.set('q', q);
  if (query.limit !== SERVICES_PAGE) p.set('limit', String(query.limit));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A list read page by page: the rows so far and the cursor of the next page (absent: complete). */
export interface Paged<T> {
  items: T[];
  next?: string;
}

/** A page as the server answers it. */
export interface Page<T> {
  items: T[];
  next_cursor?: string;
}

/** firstPage starts a list from its first page. */
export function firstPage<T>(page: Page<T>): Paged<T> {
  return { items: page.items, next: page.next_cursor || undefined };
}

/**
 * appendPage adds the next page. Rows already shown are not repeated (a row can move
 * between pages while the user reads): the copy shown keeps its place, updated.
 */
export function appendPage<T extends { id: string }>(list: Paged<T>, page: Page<T>): Paged<T> {
  const fresh = new Map(page.items.map((x) => [x.id, x]));
  const items = list.items.map((x) => fresh.get(x.id) ?? x);
  const seen = new Set(list.items.map((x) => x.id));
  for (const x of page.items) if (!seen.has(x.id)) items.push(x);
  return { items, next: page.next_cursor || undefined };
}

/** matchesQuery is the server's search, for rows the UI learns of by itself: id, name or template contains q, any case. */
export function matchesQuery(s: Pick<Service, 'id' | 'name' | 'template'>, q: string): boolean {
  const needle = q.trim().toLowerCase();
  if (!needle) return true;
  return [s.id, s.name, s.template].some((x) => x.toLowerCase().includes(needle));
}

/**
 * putService places a service read again (after a status event) into the list: replaced
 * where it is; a service not shown yet is added only when the list is complete (no
 * further page could hold it) and it matches the search, in the server's order (by id).
 */
export function putService(list: Paged<Service>, s: Service, q: string): Paged<Service> {
  const i = list.items.findIndex((x) => x.id === s.id);
  if (i >= 0) {
    const items = list.items.slice();
    items[i] = s;
    return { ...list, items };
  }
  if (list.next !== undefined || !matchesQuery(s, q)) return list;
  const items = [...list.items, s].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ...list, items };
}

/** dropService removes a service that no longer exists. */
export function dropService(list: Paged<Service>, id: string): Paged<Service> {
  if (!list.items.some((x) => x.id === id)) return list;
  return { ...list, items: list.items.filter((x) => x.id !== id) };
}

/**
 * applyStatusEvent shows at once what a drift event says about a service shown, before
 * the service is read again: its drift status, and whether it still awaits the OpenTofu
 * check (an event from Docker) or is confirmed. Other events change nothing here.
 */
export function applyStatusEvent(s: Service, ev: StatusEvent): Service {
  if (ev.kind !== 'drift' || ev.service !== s.id || !ev.drift) return s;
  const status = { ...s.status, drift: ev.drift };
  if (ev.unconfirmed) {
    status.drift_unconfirmed = true;
    if (ev.message) status.drift_signal = ev.message;
  } else {
    delete status.drift_unconfirmed;
    delete status.drift_signal;
    status.drift_checked_at = ev.time;
  }
  return { ...s, status };
}

/**
 * shownDrift is the drift status a service's page shows: the service's own while it
 * awaits confirmation or when the last report read is older than it (an event brought
 * a newer one before the report was read again), otherwise the report's.
 */
export function shownDrift(
  status: Pick<Service['status'], 'drift' | 'drift_unconfirmed' | 'drift_checked_at'>,
  report: Pick<DriftReport, 'status' | 'checked_at'> | null,
): DriftStatus {
  if (status.drift_unconfirmed || !report) return status.drift;
  if (status.drift_checked_at && Date.parse(report.checked_at) < Date.parse(status.drift_checked_at)) return status.drift;
  return report.status;
}

/**
 * resyncLimit is the page size that reads again, in one request, about as many rows as
 * are shown (after a gap in the live stream): at least a page, at most the server's largest.
 */
export function resyncLimit(shown: number, page: number): number {
  return Math.min(MAX_PAGE, Math.max(page, shown));
}

/**
 * mergeNewestJobs puts the newest page of a history read again on top of the jobs shown:
 * jobs that moved past it (newer ones arrived) stay below it, so the older pages already
 * read and their cursor stay valid.
 */
export function mergeNewestJobs(list: Paged<Job> | null, page: Page<Job>): Paged<Job> {
  if (!list) return firstPage(page);
  const ids = new Set(page.items.map((j) => j.id));
  const rest = list.items.filter((j) => !ids.has(j.id));
  // With nothing of the shown list beyond the new page, the new page's cursor is the one to follow.
  if (rest.length === 0) return firstPage(page);
  return { items: [...page.items, ...rest], next: list.next };
}

/**
 * outputsSource finds, in a history newest first, the job whose outputs the service
 * shows: the last successful apply, unless a successful destroy came after it. decided
 * is false when neither appears in the jobs given (the answer may be on an older page).
 */
export function outputsSource(jobs: Job[]): { decided: boolean; job?: Job } {
  for (const j of jobs) {
    if (j.state !== 'succeeded') continue;
    if (j.operation === 'apply') return { decided: true, job: j };
    if (j.operation === 'destroy') return { decided: true };
  }
  return { decided: false };
}

/** What a list shows in words, for the live region after a search or a further page. */
export function listSummary(shown: number, more: boolean, q: string): string {
  const what = shown === 1 ? '1 service' : `${shown} services`;
  if (shown === 0) return q ? `No services match “${q}”.` : 'No services.';
  const match = q ? ` matching “${q}”` : '';
  return more ? `Showing ${what}${match}; more can be loaded.` : `Showing ${what}${match}.`;
}
