import { describe, expect, it } from 'vitest';
import { ES_CLOSED, ES_CONNECTING, ES_OPEN, JobFollower, TenantStream, type EventSourceLike } from '../sse';
import type { EventType, JobEvent, StatusEvent } from '../types';

class FakeES implements EventSourceLike {
  readyState = ES_CONNECTING;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  private listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  constructor(readonly after: number) {}
  addEventListener(type: string, l: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }
  close() {
    this.closed = true;
    this.readyState = ES_CLOSED;
  }
  open() {
    this.readyState = ES_OPEN;
    this.onopen?.(new Event('open'));
  }
  /** Sends an event as the server writes it: id = seq, event = type, data = JSON. */
  send(e: JobEvent | StatusEvent, type: string = (e as JobEvent).type, id = String((e as JobEvent).seq ?? '')) {
    const m = { data: JSON.stringify(e), lastEventId: id, type } as MessageEvent;
    for (const l of this.listeners.get(type) ?? []) l(m);
  }
  end() {
    for (const l of this.listeners.get('end') ?? []) l({ data: '', lastEventId: '', type: 'end' } as MessageEvent);
  }
  fail(closed: boolean) {
    this.readyState = closed ? ES_CLOSED : ES_CONNECTING;
    this.onerror?.(new Event('error'));
  }
}

const t = '2026-01-01T00:00:00Z';
const ev = (seq: number, type: EventType = 'log', extra: Partial<JobEvent> = {}): JobEvent => ({ seq, time: t, type, message: `line ${seq}`, ...extra });

function harness(backlogs: JobEvent[][]) {
  const streams: FakeES[] = [];
  const fetches: number[] = [];
  const got: number[] = [];
  const timers: (() => void)[] = [];
  let ended = 0;
  const statuses: string[] = [];
  const f = new JobFollower(
    {
      fetchEvents: async (after) => {
        fetches.push(after);
        const b = backlogs.shift() ?? [];
        if (b === FAIL) throw new Error('down');
        return b.filter((e) => e.seq > after);
      },
      open: (after) => {
        const es = new FakeES(after);
        streams.push(es);
        return es;
      },
      setTimer: (fn) => timers.push(fn),
      clearTimer: () => undefined,
    },
    {
      onEvents: (evs) => got.push(...evs.map((e) => e.seq)),
      onEnd: () => ended++,
      onStatus: (s) => statuses.push(s),
    },
  );
  return { f, streams, fetches, got, timers, statuses, ended: () => ended };
}

const FAIL: JobEvent[] = [];
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('JobFollower', () => {
  it('reads the backlog, then streams from the last seq', async () => {
    const h = harness([[ev(1), ev(2), ev(3)]]);
    h.f.start();
    await tick();
    expect(h.fetches).toEqual([0]);
    expect(h.got).toEqual([1, 2, 3]);
    expect(h.streams).toHaveLength(1);
    expect(h.streams[0].after).toBe(3);
    h.streams[0].open();
    h.streams[0].send(ev(4));
    h.streams[0].send(ev(5, 'apply_start', { resource: { address: 'a.b' } }));
    expect(h.got).toEqual([1, 2, 3, 4, 5]);
    expect(h.statuses).toContain('live');
  });

  it('shows nothing twice when the stream repeats the backlog (a server ignoring ?after)', async () => {
    const h = harness([[ev(1), ev(2)]]);
    h.f.start();
    await tick();
    const es = h.streams[0];
    es.send(ev(1));
    es.send(ev(2));
    es.send(ev(3));
    es.send(ev(3));
    expect(h.got).toEqual([1, 2, 3]);
    expect(h.f.lastSeq).toBe(3);
  });

  it('takes the seq from the SSE id when the data has none', async () => {
    const h = harness([[]]);
    h.f.start();
    await tick();
    const e = { time: t, type: 'log', message: 'x' } as unknown as JobEvent;
    h.streams[0].send(e, 'log', '7');
    expect(h.got).toEqual([7]);
  });

  it('stops at end and does not reconnect', async () => {
    const h = harness([[ev(1)]]);
    h.f.start();
    await tick();
    h.streams[0].send(ev(2, 'job_state', { state: 'succeeded' }));
    h.streams[0].end();
    expect(h.ended()).toBe(1);
    expect(h.streams[0].closed).toBe(true);
    expect(h.f.done).toBe(true);
    expect(h.timers).toHaveLength(0);
  });

  it('leaves a transient error to the browser, which resumes with Last-Event-ID', async () => {
    const h = harness([[ev(1)]]);
    h.f.start();
    await tick();
    h.streams[0].fail(false);
    expect(h.statuses.at(-1)).toBe('reconnecting');
    expect(h.streams).toHaveLength(1);
    expect(h.streams[0].closed).toBe(false);
    h.streams[0].open();
    expect(h.statuses.at(-1)).toBe('live');
  });

  it('after the browser gives up, re-reads what was missed and reopens after the last seq', async () => {
    const h = harness([[ev(1), ev(2)], [ev(1), ev(2), ev(3), ev(4)]]);
    h.f.start();
    await tick();
    h.streams[0].send(ev(3));
    h.streams[0].fail(true);
    expect(h.streams[0].closed).toBe(true);
    expect(h.timers).toHaveLength(1);
    h.timers.shift()!();
    await tick();
    expect(h.fetches).toEqual([0, 3]);
    expect(h.got).toEqual([1, 2, 3, 4]);
    expect(h.streams).toHaveLength(2);
    expect(h.streams[1].after).toBe(4);
    // Events from the old stream after it was replaced are ignored.
    h.streams[0].send(ev(9));
    expect(h.got).toEqual([1, 2, 3, 4]);
  });

  it('retries the backlog when it cannot be read', async () => {
    const h = harness([FAIL, [ev(1)]]);
    h.f.start();
    await tick();
    expect(h.got).toEqual([]);
    expect(h.streams).toHaveLength(0);
    expect(h.timers).toHaveLength(1);
    h.timers.shift()!();
    await tick();
    expect(h.got).toEqual([1]);
    expect(h.streams).toHaveLength(1);
  });

  it('treats a stream closed after the final state as the end', async () => {
    const h = harness([[ev(1), ev(2, 'job_state', { state: 'failed' })]]);
    h.f.start();
    await tick();
    h.streams[0].fail(true);
    expect(h.ended()).toBe(1);
    expect(h.timers).toHaveLength(0);
  });

  it('does nothing after stop', async () => {
    const h = harness([[ev(1)]]);
    h.f.start();
    h.f.stop();
    await tick();
    expect(h.got).toEqual([]);
    expect(h.streams).toHaveLength(0);
  });

  it('resumes a reloaded page without losing or repeating lines', async () => {
    // First page life: saw 1..3 live.
    const first = harness([[ev(1)]]);
    first.f.start();
    await tick();
    first.streams[0].send(ev(2));
    first.streams[0].send(ev(3));
    first.f.stop();
    // Reload: the server has recorded 1..5 meanwhile; the stream continues with 6.
    const second = harness([[1, 2, 3, 4, 5].map((n) => ev(n))]);
    second.f.start();
    await tick();
    expect(second.streams[0].after).toBe(5);
    second.streams[0].send(ev(5)); // overlap
    second.streams[0].send(ev(6));
    expect(second.got).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('TenantStream', () => {
  it('delivers status events and asks for a re-read after a gap', () => {
    const streams: FakeES[] = [];
    const timers: (() => void)[] = [];
    const got: StatusEvent[] = [];
    let resyncs = 0;
    const s = new TenantStream(
      {
        open: () => {
          const es = new FakeES(0);
          streams.push(es);
          return es;
        },
        setTimer: (fn) => timers.push(fn),
      },
      { onStatus: (e) => got.push(e), onResync: () => resyncs++ },
    );
    s.start();
    streams[0].open();
    expect(resyncs).toBe(0);
    const status: StatusEvent = { kind: 'drift', service: 'svc1', drift: 'missing', time: t };
    streams[0].send(status, 'status', '');
    expect(got).toEqual([status]);
    // Transient error: the browser reconnects; on open, re-read.
    streams[0].fail(false);
    streams[0].open();
    expect(resyncs).toBe(1);
    // Closed for good: reconnect after a pause, re-reading.
    streams[0].fail(true);
    expect(timers).toHaveLength(1);
    timers.shift()!();
    expect(streams).toHaveLength(2);
    expect(resyncs).toBe(2);
    s.stop();
    expect(streams[1].closed).toBe(true);
  });
});
