import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { addEvents, emptyLog, type JobLog } from './events';
import { JobFollower, type StreamStatus } from './sse';

/**
 * useJobFollow follows one job's events: the backlog as JSON, then the SSE stream from
 * the last seq. It returns the folded log, the stream's status and whether the stream
 * ended. A null job follows nothing.
 */
export function useJobFollow(service: string, job: string | null, onEnd?: () => void) {
  const [log, setLog] = useState<JobLog>(emptyLog);
  const [status, setStatus] = useState<StreamStatus>('loading');
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const endRef = useRef(onEnd);
  endRef.current = onEnd;

  useEffect(() => {
    setLog(emptyLog());
    setEnded(false);
    setError(null);
    if (!job) return;
    const f = new JobFollower(
      {
        fetchEvents: (after) => api.jobEvents(service, job, after),
        open: (after) => new EventSource(api.jobStreamURL(service, job, after), { withCredentials: true }),
      },
      {
        onEvents: (evs) => {
          setError(null);
          setLog((l) => addEvents(l, evs));
        },
        onEnd: () => {
          setEnded(true);
          endRef.current?.();
        },
        onStatus: setStatus,
        onError: setError,
      },
    );
    f.start();
    return () => f.stop();
  }, [service, job]);

  return { log, status, ended, error };
}
