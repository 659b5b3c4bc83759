// Following Server-Sent Event streams without losing or repeating anything.
//
// A job's stream (GET .../jobs/{job}/events) numbers its events (SSE id = seq). Within
// one page life the browser's EventSource resumes by itself with Last-Event-ID, but a
// reloaded page starts from nothing: JobFollower first reads the events recorded so far
// (the same URL with Accept: application/json), then opens the stream with
// ?after=<last seq>. Every event is de-duplicated by seq, so an overlap between the
// backlog and the stream, or a server that replays after a reconnect, shows nothing twice.
// When the browser gives up on a stream (readyState CLOSED: an HTTP error, a proxy
// cutting it), JobFollower reads the backlog again and reopens it after a pause.

import type { EventType, JobEvent, StatusEvent } from './types';
import { EVENT_TYPES, isFinal } from './types';

/** The part of EventSource the followers use, so tests can give a fake. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export const ES_CONNECTING = 0;
export const ES_OPEN = 1;
export const ES_CLOSED = 2;

export type StreamStatus = 'loading' | 'live' | 'reconnecting' | 'ended';

export interface JobFollowerDeps {
  /** Events recorded so far with seq > after (JSON). */
  fetchEvents(after: number): Promise<JobEvent[]>;
  /** Opens the stream resuming after seq `after`. */
  open(after: number): EventSourceLike;
  setTimer?(fn: () => void, ms: number): unknown;
  clearTimer?(handle: unknown): void;
}

export interface JobFollowerHandlers {
  /** New events, in seq order, each seen once. */
  onEvents(events: JobEvent[]): void;
  /** The stream said `end`: the job is over and nothing more will come. */
  onEnd(): void;
  onStatus?(status: StreamStatus): void;
  /** Reading the backlog failed (the follower keeps retrying). */
  onError?(err: unknown): void;
}

export const RETRY_MIN_MS = 1000;
export const RETRY_MAX_MS = 15000;

export class JobFollower {
  private readonly deps: JobFollowerDeps;
  private readonly h: JobFollowerHandlers;
  private readonly seen = new Set<number>();
  private last = 0;
  private es: EventSourceLike | null = null;
  private timer: unknown = null;
  private stopped = false;
  private ended = false;
  private sawFinal = false;
  private retryMs = RETRY_MIN_MS;

  constructor(deps: JobFollowerDeps, handlers: JobFollowerHandlers) {
    this.deps = deps;
    this.h = handlers;
  }

  /** The highest seq delivered so far. */
  get lastSeq(): number {
    return this.last;
  }

  get done(): boolean {
    return this.ended;
  }

  start(): void {
    this.h.onStatus?.('loading');
    void this.catchUp();
  }

  stop(): void {
    this.stopped = true;
    this.closeStream();
    if (this.timer !== null) (this.deps.clearTimer ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>);
    this.timer = null;
  }

  /** deliver hands over the events not seen before and returns how many there were. */
  deliver(events: JobEvent[]): number {
    const fresh: JobEvent[] = [];
    for (const e of events) {
      if (!e || typeof e.seq !== 'number' || this.seen.has(e.seq)) continue;
      this.seen.add(e.seq);
      fresh.push(e);
    }
    if (fresh.length === 0) return 0;
    fresh.sort((a, b) => a.seq - b.seq);
    for (const e of fresh) {
      if (e.seq > this.last) this.last = e.seq;
      if (e.type === 'job_state' && isFinal(e.state)) this.sawFinal = true;
    }
    this.h.onEvents(fresh);
    return fresh.length;
  }

  private async catchUp(): Promise<void> {
    if (this.stopped) return;
    try {
      const events = await this.deps.fetchEvents(this.last);
      if (this.stopped) return;
      this.deliver(events);
      this.retryMs = RETRY_MIN_MS;
      this.connect();
    } catch (err) {
      if (this.stopped) return;
      this.h.onError?.(err);
      this.h.onStatus?.('reconnecting');
      this.schedule(() => void this.catchUp());
    }
  }

  private connect(): void {
    if (this.stopped || this.ended) return;
    this.closeStream();
    const es = this.deps.open(this.last);
    this.es = es;
    const onMessage = (ev: MessageEvent) => {
      if (this.es !== es) return;
      const e = parseEvent(ev);
      if (e) this.deliver([e]);
    };
    for (const t of EVENT_TYPES) es.addEventListener(t, onMessage);
    es.addEventListener('message', onMessage);
    es.addEventListener('end', () => {
      if (this.es !== es) return;
      this.finish();
    });
    es.onopen = () => {
      if (this.es !== es) return;
      this.retryMs = RETRY_MIN_MS;
      this.h.onStatus?.('live');
    };
    es.onerror = () => {
      if (this.es !== es || this.stopped) return;
      if (this.sawFinal) {
        // The job is over and the server closed the stream: nothing more can come.
        this.finish();
        return;
      }
      this.h.onStatus?.('reconnecting');
      if (es.readyState === ES_CLOSED) {
        // The browser gave up: read what was missed, then open a new stream.
        this.closeStream();
        this.schedule(() => void this.catchUp());
      }
      // CONNECTING: the browser retries by itself, sending Last-Event-ID.
    };
  }

  private finish(): void {
    this.ended = true;
    this.closeStream();
    this.h.onStatus?.('ended');
    this.h.onEnd();
  }

  private closeStream(): void {
    if (this.es) {
      this.es.onopen = null;
      this.es.onerror = null;
      this.es.close();
      this.es = null;
    }
  }

  private schedule(fn: () => void): void {
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    const set = this.deps.setTimer ?? ((f: () => void, ms: number) => setTimeout(f, ms));
    this.timer = set(() => {
      this.timer = null;
      fn();
    }, delay);
  }
}

/** parseEvent reads a job event from an SSE message; the id fills in a missing seq. */
export function parseEvent(ev: MessageEvent): JobEvent | null {
  let data: unknown;
  try {
    data = JSON.parse(String(ev.data));
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  const e = data as JobEvent;
  if (typeof e.seq !== 'number') {
    const id = Number(ev.lastEventId);
    if (!Number.isFinite(id)) return null;
    e.seq = id;
  }
  if (typeof e.type !== 'string' && ev.type !== 'message') e.type = ev.type as EventType; // the stream names its events by type
  return e;
}

export interface TenantStreamDeps {
  open(): EventSourceLike;
  setTimer?(fn: () => void, ms: number): unknown;
  clearTimer?(handle: unknown): void;
}

export interface TenantStreamHandlers {
  onStatus(ev: StatusEvent): void;
  /** The stream (re)connected after a gap: events may have been missed, re-read everything. */
  onResync(): void;
}

/**
 * TenantStream follows GET /api/v1/events (the tenant's status changes). The stream
 * has no replay: after any gap the handlers are told to re-read the current state.
 */
export class TenantStream {
  private readonly deps: TenantStreamDeps;
  private readonly h: TenantStreamHandlers;
  private es: EventSourceLike | null = null;
  private timer: unknown = null;
  private stopped = false;
  private hadGap = false;
  private retryMs = RETRY_MIN_MS;

  constructor(deps: TenantStreamDeps, handlers: TenantStreamHandlers) {
    this.deps = deps;
    this.h = handlers;
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.close();
    if (this.timer !== null) (this.deps.clearTimer ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>);
    this.timer = null;
  }

  private connect(): void {
    if (this.stopped) return;
    const es = this.deps.open();
    this.es = es;
    const onMessage = (ev: MessageEvent) => {
      if (this.es !== es) return;
      let data: unknown;
      try {
        data = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (typeof data === 'object' && data !== null && typeof (data as StatusEvent).service === 'string') {
        this.h.onStatus(data as StatusEvent);
      }
    };
    es.addEventListener('status', onMessage);
    es.addEventListener('message', onMessage);
    for (const kind of ['job', 'drift', 'service']) es.addEventListener(kind, onMessage);
    es.onopen = () => {
      if (this.es !== es) return;
      this.retryMs = RETRY_MIN_MS;
      if (this.hadGap) {
        this.hadGap = false;
        this.h.onResync();
      }
    };
    es.onerror = () => {
      if (this.es !== es || this.stopped) return;
      this.hadGap = true;
      if (es.readyState === ES_CLOSED) {
        this.close();
        const delay = this.retryMs;
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
        const set = this.deps.setTimer ?? ((f: () => void, ms: number) => setTimeout(f, ms));
        this.timer = set(() => {
          this.timer = null;
          // Re-read now too, so a signed-out session is noticed (the re-read answers 401).
          this.h.onResync();
          this.connect();
        }, delay);
      }
    };
  }

  private close(): void {
    if (this.es) {
      this.es.onopen = null;
      this.es.onerror = null;
      this.es.close();
      this.es = null;
    }
  }
}
