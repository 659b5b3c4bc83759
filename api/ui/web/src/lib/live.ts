// The app's one subscription to the tenant's status stream (GET /api/v1/events),
// shared by every screen: the services list and a service's page refresh what an
// event names; after a gap in the stream they re-read everything.

import { TenantStream } from './sse';
import type { StatusEvent } from './types';

export type LiveListener = {
  onStatus?(ev: StatusEvent): void;
  onResync?(): void;
};

const listeners = new Set<LiveListener>();
let stream: TenantStream | null = null;

export function startLive(): void {
  if (stream || typeof EventSource === 'undefined') return;
  stream = new TenantStream(
    { open: () => new EventSource('/api/v1/events', { withCredentials: true }) },
    {
      onStatus: (ev) => {
        for (const l of listeners) l.onStatus?.(ev);
      },
      onResync: () => {
        for (const l of listeners) l.onResync?.();
      },
    },
  );
  stream.start();
}

export function stopLive(): void {
  stream?.stop();
  stream = null;
}

export function subscribeLive(l: LiveListener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
