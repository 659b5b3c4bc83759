import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from './Announcer';
import { Notice } from './Notice';
import { api, type ContainerAction } from '../lib/api';
import { describe } from '../lib/errors';
import { formatTime } from '../lib/format';
import type { LogEnd, LogLine, Service } from '../lib/types';

/** How many lines the live log keeps on screen (the oldest go first). */
const MAX_LINES = 1000;
/** How many of the last lines the live log starts with. */
const TAIL = 200;

const DONE: Record<ContainerAction, string> = {
  stop: 'The service was stopped.',
  start: 'The service was started.',
  restart: 'The service was restarted.',
};

/**
 * The running service (Docker target): stop, start, restart, and its live container log.
 * A stopped service is shown as stopped, not as drifted; SpawnIt leaves it alone until it
 * is started (or applied) again.
 */
export function ContainerPanel({ svc, disabled, onChanged }: { svc: Service; disabled: boolean; onChanged: (s: Service) => void }) {
  const [working, setWorking] = useState<ContainerAction | ''>('');
  const [error, setError] = useState('');
  const [logOpen, setLogOpen] = useState(false);
  const stopped = !!svc.status.stopped;

  const act = async (action: ContainerAction) => {
    setWorking(action);
    setError('');
    try {
      const s = await api.container(svc.id, action);
      onChanged(s);
      announce(DONE[action]);
    } catch (err) {
      setError(describe(err));
    } finally {
      setWorking('');
    }
  };
  const dis = disabled || !!working;

  return (
    <section class="panel" aria-labelledby="container-title" data-testid="container-panel">
      <h2 id="container-title">Running service</h2>
      <p data-testid="container-state" data-stopped={stopped ? 'true' : 'false'}>
        {stopped
          ? `Stopped${svc.status.stopped_at ? ' since ' + formatTime(svc.status.stopped_at) : ''}. SpawnIt does not check or repair it until you start it again.`
          : 'Running.'}
      </p>
      <div class="actions actions--wrap">
        {stopped ? (
          <button type="button" class="button button--primary" disabled={dis} onClick={() => void act('start')} data-testid="container-start">
            {working === 'start' ? 'Starting…' : 'Start'}
          </button>
        ) : (
          <button type="button" class="button" disabled={dis} onClick={() => void act('stop')} data-testid="container-stop">
            {working === 'stop' ? 'Stopping…' : 'Stop'}
          </button>
        )}
        <button type="button" class="button" disabled={dis} onClick={() => void act('restart')} data-testid="container-restart">
          {working === 'restart' ? 'Restarting…' : 'Restart'}
        </button>
        <button type="button" class="button" onClick={() => setLogOpen(!logOpen)} aria-expanded={logOpen} data-testid="open-log">
          {logOpen ? 'Hide the live log' : 'Show the live log'}
        </button>
      </div>
      {error ? <Notice tone="error" testid="container-error">{error}</Notice> : null}
      {logOpen ? <LiveLog service={svc.id} key={stopped ? 'stopped' : 'running'} /> : null}
    </section>
  );
}

type LogStatus = 'connecting' | 'live' | 'ended' | 'lost';

/** The containers' log, followed live over SSE (not resumed after a loss: a log has no positions). */
function LiveLog({ service }: { service: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [status, setStatus] = useState<LogStatus>('connecting');
  const [endError, setEndError] = useState('');
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    const es = new EventSource(api.logStreamURL(service, TAIL), { withCredentials: true });
    let pending: LogLine[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const add = pending;
      pending = [];
      setLines((cur) => {
        const next = cur.concat(add);
        return next.length > MAX_LINES ? next.slice(next.length - MAX_LINES) : next;
      });
    };
    es.onopen = () => setStatus('live');
    es.addEventListener('log', (ev: MessageEvent) => {
      try {
        pending.push(JSON.parse(ev.data) as LogLine);
      } catch {
        return;
      }
      if (!frame) frame = window.setTimeout(flush, 50);
    });
    es.addEventListener('end', (ev: MessageEvent) => {
      try {
        const end = JSON.parse(ev.data) as LogEnd;
        if (end.error) setEndError(end.error);
      } catch {
        // an end without a readable body is still the end
      }
      es.close();
      setStatus('ended');
    });
    es.onerror = () => {
      // The browser would reconnect and repeat the tail: stop here and say so.
      es.close();
      setStatus((s) => (s === 'ended' ? s : 'lost'));
    };
    return () => {
      es.close();
      if (frame) window.clearTimeout(frame);
    };
  }, [service]);

  // Keep the newest line in view.
  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const several = new Set(lines.map((l) => l.container)).size > 1;
  const statusText: Record<LogStatus, string> = {
    connecting: 'Connecting…',
    live: 'Live: new lines appear as the service writes them.',
    ended: 'The log ended: the service stopped writing (it was stopped or removed).',
    lost: 'The connection to the log was lost. Hide and show the log to follow it again.',
  };
  return (
    <div class="stack">
      <p class="muted" data-testid="log-status" data-status={status}>
        {statusText[status]}
        {endError ? ' ' + endError : ''}
      </p>
      <pre class="log" data-testid="container-log" tabIndex={0} aria-label="Container log" style="max-height: 24rem; overflow: auto;">
        {lines.length === 0
          ? status === 'live'
            ? '(nothing written yet)'
            : ''
          : lines.map((l, i) => (
              <span key={i} class={l.stream === 'stderr' ? 'log__stderr' : undefined}>
                {several ? l.container + ' | ' : ''}
                {l.text}
                {'\n'}
              </span>
            ))}
      </pre>
    </div>
  );
}
