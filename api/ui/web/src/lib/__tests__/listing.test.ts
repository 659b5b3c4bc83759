import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api';
import { driftAnnouncement, statusDriftBadge } from '../format';
import {
  appendPage,
  applyStatusEvent,
  dropService,
  firstPage,
  listSearch,
  listSummary,
  matchesQuery,
  mergeNewestJobs,
  outputsSource,
  parseListQuery,
  putService,
  resyncLimit,
  SERVICES_PAGE,
  shownDrift,
} from '../listing';
import type { Job, Service, StatusEvent } from '../types';

const t = '2026-01-01T00:00:00Z';
const svc = (id: string, name = id.toUpperCase(), template = 'httpecho', extra: Partial<Service['status']> = {}): Service => ({
  id,
  name,
  template,
  target: 'docker',
  provider: 'docker',
  created_at: t,
  updated_at: t,
  auto_remediate: false,
  inputs: {},
  etag: 'e',
  status: { intent: 'applied', drift: 'in_sync', busy: false, ...extra },
});
const job = (id: string, operation: Job['operation'] = 'drift', state: Job['state'] = 'succeeded'): Job => ({
  id,
  operation,
  state,
  service: { client: 't', service: 's1' },
  created_at: t,
  host: 'h',
  pid: 1,
  last_seq: 1,
});
const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
const drift = (extra: Partial<StatusEvent>): StatusEvent => ({ kind: 'drift', service: 'b', time: t, drift: 'missing', ...extra });

describe('the list URL', () => {
  it('reads and writes the search and page size, with defaults left out', () => {
    expect(parseListQuery('')).toEqual({ q: '', limit: SERVICES_PAGE });
    expect(parseListQuery('?q=%20pg%20&limit=3')).toEqual({ q: 'pg', limit: 3 });
    for (const bad of ['0', '501', '-1', '2.5', 'x']) expect(parseListQuery(`?limit=${bad}`).limit).toBe(SERVICES_PAGE);
    expect(listSearch({ q: '', limit: SERVICES_PAGE })).toBe('');
    expect(listSearch({ q: 'a b&c', limit: SERVICES_PAGE })).toBe('?q=a+b%26c');
    const round = { q: 'écho/1', limit: 7 };
    expect(parseListQuery(listSearch(round))).toEqual(round);
  });
});

describe('pages', () => {
  it('grows page by page until the last one, without repeating a row', () => {
    let list = firstPage({ items: [svc('a'), svc('b')], next_cursor: 'c1' });
    expect(list.next).toBe('c1');
    // b moved (renamed, say) and shows up again on the next page: kept once, in its place, updated.
    list = appendPage(list, { items: [svc('b', 'Renamed'), svc('c')], next_cursor: 'c2' });
    expect(ids(list.items)).toEqual(['a', 'b', 'c']);
    expect(list.items[1].name).toBe('Renamed');
    expect(list.next).toBe('c2');
    list = appendPage(list, { items: [svc('d')] });
    expect(ids(list.items)).toEqual(['a', 'b', 'c', 'd']);
    expect(list.next).toBeUndefined();
    expect(firstPage({ items: [], next_cursor: '' }).next).toBeUndefined();
  });

  it('reads, on resync, about as many rows as are shown, within the server limits', () => {
    expect(resyncLimit(0, 50)).toBe(50);
    expect(resyncLimit(120, 50)).toBe(120);
    expect(resyncLimit(5000, 50)).toBe(500);
  });

  it('words what is shown', () => {
    expect(listSummary(0, false, 'pg')).toBe('No services match “pg”.');
    expect(listSummary(1, false, '')).toBe('Showing 1 service.');
    expect(listSummary(50, true, 'pg')).toBe('Showing 50 services matching “pg”; more can be loaded.');
  });
});

describe('live rows', () => {
  it('matches a search as the server does: id, name or template, any case', () => {
    const s = svc('s-ab12', 'My Postgres', 'postgres');
    expect(matchesQuery(s, '')).toBe(true);
    expect(matchesQuery(s, 'AB1')).toBe(true);
    expect(matchesQuery(s, 'my post')).toBe(true);
    expect(matchesQuery(s, 'GRES')).toBe(true);
    expect(matchesQuery(s, 'redis')).toBe(false);
  });

  it('replaces a row shown in place; adds one only to a complete list it matches, in id order', () => {
    const partial = { items: [svc('a'), svc('c')], next: 'n' };
    expect(putService(partial, svc('c', 'New name'), '').items[1].name).toBe('New name');
    expect(putService(partial, svc('b'), '')).toBe(partial);
    const complete = { items: [svc('a'), svc('c')] };
    expect(ids(putService(complete, svc('b'), '').items)).toEqual(['a', 'b', 'c']);
    expect(putService(complete, svc('b', 'B', 'redis'), 'echo')).toBe(complete);
    expect(ids(dropService(complete, 'a').items)).toEqual(['c']);
    expect(dropService(complete, 'zz')).toBe(complete);
  });

  it('shows a Docker-reported drift at once as awaiting confirmation, then as confirmed', () => {
    const s = svc('b');
    const signalled = applyStatusEvent(s, drift({ unconfirmed: true, message: 'container spawnit-t-b was removed' }));
    expect(signalled.status).toMatchObject({ drift: 'missing', drift_unconfirmed: true, drift_signal: 'container spawnit-t-b was removed' });
    expect(s.status.drift).toBe('in_sync');
    const confirmed = applyStatusEvent(signalled, drift({ time: '2026-01-01T00:00:05Z' }));
    expect(confirmed.status.drift).toBe('missing');
    expect(confirmed.status.drift_checked_at).toBe('2026-01-01T00:00:05Z');
    expect(confirmed.status.drift_unconfirmed).toBeUndefined();
    expect(confirmed.status.drift_signal).toBeUndefined();
    // Corrected: the check found it in sync after all.
    expect(applyStatusEvent(signalled, drift({ drift: 'in_sync' })).status).toEqual({ ...s.status, drift_checked_at: t });
    // Other kinds and other services leave the row as it is.
    expect(applyStatusEvent(s, { kind: 'job', service: 'b', time: t })).toBe(s);
    expect(applyStatusEvent(s, drift({ service: 'other' }))).toBe(s);
  });

  it('shows on the service page the newer of its status and the last report read', () => {
    const report = { status: 'in_sync' as const, checked_at: '2026-01-01T00:00:00Z' };
    expect(shownDrift({ drift: 'missing', drift_unconfirmed: true, drift_checked_at: t }, report)).toBe('missing');
    // The confirmed event came before the report was read again.
    expect(shownDrift({ drift: 'missing', drift_checked_at: '2026-01-01T00:00:05.5Z' }, report)).toBe('missing');
    expect(shownDrift({ drift: 'missing', drift_checked_at: t }, { ...report, status: 'drifted' })).toBe('drifted');
    expect(shownDrift({ drift: 'pending' }, report)).toBe('in_sync');
    expect(shownDrift({ drift: 'missing' }, null)).toBe('missing');
  });

  it('says "awaiting confirmation" in words and announces both steps', () => {
    const b = statusDriftBadge({ drift: 'missing', drift_unconfirmed: true, drift_signal: 'container x was removed' });
    expect(b.text).toBe('Missing, awaiting confirmation');
    expect(b.hint).toBe('Docker reported: container x was removed. SpawnIt is checking with OpenTofu to confirm it.');
    expect(b.pending).toBe(true);
    expect(statusDriftBadge({ drift: 'missing' })).toMatchObject({ text: 'Missing', tone: 'bad' });
    expect(driftAnnouncement('Web', {}, drift({ unconfirmed: true, message: 'container x was stopped' }))).toBe(
      '“Web”: missing, awaiting confirmation. Docker reported: container x was stopped.',
    );
    expect(driftAnnouncement('Web', { drift_unconfirmed: true }, drift({}))).toBe('“Web”: the OpenTofu check confirms: missing.');
    expect(driftAnnouncement('Web', { drift_unconfirmed: true }, drift({ drift: 'in_sync' }))).toBe('“Web”: the OpenTofu check confirms: in sync.');
    // A routine check nobody was waiting for is not read out.
    expect(driftAnnouncement('Web', {}, drift({}))).toBe('');
  });
});

describe('job history pages', () => {
  it('puts the newest page on top and keeps the older pages read and their cursor', () => {
    let list = mergeNewestJobs(null, { items: [job('j5'), job('j4'), job('j3')], next_cursor: 'after-j3' });
    list = appendPage(list, { items: [job('j2'), job('j1')] });
    expect(list.next).toBeUndefined();
    // Two new jobs: the newest page (3) now ends at j5; j4.. stay below, still complete.
    list = mergeNewestJobs(list, { items: [job('j7'), job('j6'), job('j5')], next_cursor: 'after-j5' });
    expect(ids(list.items)).toEqual(['j7', 'j6', 'j5', 'j4', 'j3', 'j2', 'j1']);
    expect(list.next).toBeUndefined();
    // Only the first page read: the jobs pushed off it stay, and the old cursor follows them.
    const one = mergeNewestJobs(null, { items: [job('b'), job('a')], next_cursor: 'after-a' });
    const again = mergeNewestJobs(one, { items: [job('c'), job('b')], next_cursor: 'after-b' });
    expect(ids(again.items)).toEqual(['c', 'b', 'a']);
    expect(again.next).toBe('after-a');
    // Everything shown is on the new page: its cursor is the one.
    expect(mergeNewestJobs(one, { items: [job('b'), job('a')], next_cursor: 'x' }).next).toBe('x');
  });

  it('finds the outputs job: the last successful apply unless a destroy followed', () => {
    expect(outputsSource([job('3'), job('2', 'apply', 'failed'), job('1', 'apply')])).toEqual({ decided: true, job: job('1', 'apply') });
    expect(outputsSource([job('2', 'destroy'), job('1', 'apply')])).toEqual({ decided: true });
    expect(outputsSource([job('2'), job('1', 'plan')])).toEqual({ decided: false });
  });
});

describe('page requests', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sends limit, cursor and q, leaving out the empty ones', async () => {
    const urls: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      urls.push(url);
      const body = url.includes('/jobs') ? { jobs: [job('j1')], next_cursor: 'n2' } : { services: [svc('a')] };
      return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
    });
    const first = await api.servicesPage({ limit: 50, q: '' });
    expect(first).toEqual({ items: [svc('a')], next_cursor: undefined });
    await api.servicesPage({ limit: 3, q: 'my pg', cursor: 'c/1' });
    const jobs = await api.jobsPage('s 1', { limit: 20, cursor: 'n1' });
    expect(jobs.next_cursor).toBe('n2');
    expect(urls).toEqual(['/api/v1/services?limit=50', '/api/v1/services?limit=3&cursor=c%2F1&q=my+pg', '/api/v1/services/s%201/jobs?limit=20&cursor=n1']);
  });
});
