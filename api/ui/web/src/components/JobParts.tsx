import { useEffect, useRef, useState } from 'preact/hooks';
import { actionPast, actionWords, summarySentence, type JobLog, type ResourceProgress } from '../lib/events';
import { describe } from '../lib/errors';
import { driftBadge, formatTime, isLink, outputText } from '../lib/format';
import type { DriftReport, Output, PlanSummary } from '../lib/types';
import { Badge } from './Badge';
import { Notice } from './Notice';

/** The readable plan: counts as a sentence, then each resource with what will happen to it. */
export function PlanView({ plan }: { plan: PlanSummary }) {
  const resources = (plan.resources ?? []).filter((r) => r.action !== 'no-op' && r.action !== 'read');
  const drift = plan.drift ?? [];
  return (
    <div class="plan" data-testid="plan-summary">
      <p class="plan__sentence">
        <strong>{summarySentence(plan.add, plan.change, plan.destroy)}</strong>
        {plan.has_changes ? null : ' Nothing needs to change: what runs already matches.'}
      </p>
      {resources.length > 0 ? (
        <ul class="reslist">
          {resources.map((r) => (
            <li key={r.address} class={`reslist__item reslist__item--${actionTone(r.action)}`}>
              <span class="reslist__action">{actionLabel(r.action)}</span>
              <code class="reslist__addr">{r.address}</code>
              <span class="visually-hidden"> will be {actionPast(r.action)}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {drift.length > 0 ? (
        <>
          <h3>Changed outside SpawnIt</h3>
          <ul class="reslist">
            {drift.map((r) => (
              <li key={'d-' + r.address} class="reslist__item reslist__item--warn">
                <span class="reslist__action">{actionLabel(r.action)}</span>
                <code class="reslist__addr">{r.address}</code>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}

export function actionLabel(action: string | undefined): string {
  switch (action) {
    case 'create':
      return 'Create';
    case 'update':
      return 'Change';
    case 'delete':
      return 'Destroy';
    case 'replace':
      return 'Replace';
    case 'read':
      return 'Read';
    case 'no-op':
    case 'noop':
      return 'No change';
    default:
      return action ? action : 'Change';
  }
}

function actionTone(action: string | undefined): string {
  switch (action) {
    case 'create':
      return 'ok';
    case 'delete':
    case 'replace':
      return 'bad';
    case 'update':
      return 'warn';
    default:
      return 'neutral';
  }
}

const PHASE_TEXT: Record<ResourceProgress['phase'], string> = {
  planned: 'Planned',
  refreshing: 'Reading',
  refreshed: 'Read',
  working: 'In progress',
  done: 'Done',
  failed: 'Failed',
  drifted: 'Changed outside SpawnIt',
};

/** Per-resource progress from the event stream. */
export function ResourceProgressList({ log }: { log: JobLog }) {
  const items = Array.from(log.resources.values()).sort((a, b) => a.firstSeq - b.firstSeq);
  if (items.length === 0) return null;
  return (
    <ul class="progress" data-testid="resource-progress">
      {items.map((r) => (
        <li key={r.address} class={`progress__item progress__item--${r.phase}`}>
          <span class="progress__icon" aria-hidden="true">
            {r.phase === 'done' ? '✓' : r.phase === 'failed' ? '✕' : r.phase === 'working' ? '…' : '•'}
          </span>
          <code class="progress__addr">{r.address}</code>
          <span class="progress__state">
            {r.phase === 'working' || r.phase === 'done' ? actionWords(r.action)[r.phase === 'done' ? 1 : 0] : PHASE_TEXT[r.phase]}
            {r.phase === 'planned' && r.action ? ` (${actionLabel(r.action).toLowerCase()})` : ''}
            {r.elapsed !== undefined && (r.phase === 'working' || r.phase === 'done') ? ` · ${Math.round(r.elapsed)} s` : ''}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** The log: newest at the bottom; follows new lines while the reader is at the bottom. */
export function LogView({ log }: { log: JobLog }) {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  useEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [log.lines.length]);
  return (
    <div
      class="log"
      ref={ref}
      role="log"
      aria-label="Job log"
      tabIndex={0}
      data-testid="job-log"
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      <ol class="log__lines">
        {log.lines.length === 0 ? <li class="log__empty">No output yet.</li> : null}
        {log.lines.map((l) => (
          <li key={l.seq} class={`log__line log__line--${l.level}`} data-seq={l.seq}>
            <span class="log__time">{shortTime(l.time)}</span>
            <span class="log__text">{l.text}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/**
 * OutputsView lists a job's outputs. Sensitive values are hidden until the user asks:
 * reveal() fetches them (GET job?reveal=true) and they are shown until hidden again.
 */
/** reveal, when absent (a viewer), leaves sensitive values hidden with no button to show them. */
export function OutputsView({ outputs, reveal }: { outputs: Record<string, Output>; reveal?: () => Promise<Record<string, Output>> }) {
  const [revealed, setRevealed] = useState<Record<string, unknown>>({});
  const [error, setError] = useState('');
  const [loading, setLoading] = useState('');
  const names = Object.keys(outputs).sort();
  if (names.length === 0) return <p class="muted">This service has no outputs.</p>;
  const doReveal = async (name: string) => {
    if (!reveal) return;
    setError('');
    setLoading(name);
    try {
      const all = await reveal();
      const v = all[name]?.value;
      if (v === undefined) setError('The server did not send this value.');
      else setRevealed((r) => ({ ...r, [name]: v }));
    } catch (err) {
      setError(describe(err));
    } finally {
      setLoading('');
    }
  };
  return (
    <>
      {error ? <Notice tone="error">{error}</Notice> : null}
      <dl class="kv" data-testid="outputs">
        {names.map((n) => {
          const o = outputs[n];
          const isRevealed = n in revealed;
          const text = o.sensitive ? (isRevealed ? outputText(revealed[n]) : '') : outputText(o.value);
          return (
            <div class="kv__row" key={n}>
              <dt>{n.replace(/_/g, ' ')}</dt>
              <dd>
                {o.sensitive && !isRevealed ? (
                  <span class="masked">
                    <span aria-hidden="true">••••••••</span>
                    <span class="visually-hidden">hidden</span>
                  </span>
                ) : isLink(text) ? (
                  <a href={text} target="_blank" rel="noopener noreferrer">
                    {text}
                  </a>
                ) : (
                  <code class="value">{text}</code>
                )}
                {o.sensitive && reveal ? (
                  <button
                    type="button"
                    class="button button--small"
                    disabled={loading === n}
                    onClick={() =>
                      isRevealed
                        ? setRevealed(({ [n]: _gone, ...rest }) => rest)
                        : void doReveal(n)
                    }
                  >
                    {isRevealed ? 'Hide' : loading === n ? 'Revealing…' : 'Reveal'}
                    <span class="visually-hidden"> {n.replace(/_/g, ' ')}</span>
                  </button>
                ) : null}
              </dd>
            </div>
          );
        })}
      </dl>
    </>
  );
}

const RESOURCE_DRIFT_TEXT: Record<string, string> = {
  in_sync: 'In sync',
  modified: 'Changed outside SpawnIt',
  deleted: 'Gone',
  unexpected: 'Still exists',
};

/** The status of an object no state records: it exists, but SpawnIt did not make it part of the service. */
const LEFTOVER_TEXT = 'Unmanaged';

export function DriftView({ report }: { report: DriftReport }) {
  const b = driftBadge(report.status);
  const resources = report.resources ?? [];
  return (
    <div class="stack stack--tight" data-testid="drift-report">
      <p>
        <Badge badge={b} label="Drift" /> <span class="muted">{b.hint}</span>
      </p>
      {report.checked_at && report.status !== 'not_checked' ? (
        <p class="muted">Checked {formatTime(report.checked_at)}.</p>
      ) : null}
      {report.error ? <Notice tone="warn">The check could not finish: {report.error}</Notice> : null}
      {resources.length > 0 ? (
        <ul class="reslist">
          {resources.map((r) => (
            <li key={r.address} class={`reslist__item reslist__item--${r.status === 'in_sync' ? 'ok' : r.status === 'modified' ? 'warn' : 'bad'}`}>
              <span class="reslist__action">{r.leftover ? LEFTOVER_TEXT : (RESOURCE_DRIFT_TEXT[r.status] ?? r.status)}</span>
              <code class="reslist__addr">{r.address}</code>
              {r.paths && r.paths.length > 0 ? <span class="muted"> ({r.paths.join(', ')})</span> : null}
              {r.leftover ? (
                <span class="muted" data-testid="drift-leftover">
                  {' '}
                  — not managed by SpawnIt: left by a destroy that did not finish, or made by hand. Remove it with Docker, or destroy the service again.
                </span>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
