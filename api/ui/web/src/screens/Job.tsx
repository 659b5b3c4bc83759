import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from '../components/Announcer';
import { Badge } from '../components/Badge';
import { DriftView, LogView, OutputsView, PlanView, ResourceProgressList } from '../components/JobParts';
import { Link } from '../components/Link';
import { Loading, Notice } from '../components/Notice';
import { api } from '../lib/api';
import { summarySentence } from '../lib/events';
import { ApiError, describe } from '../lib/errors';
import { takeFlash } from '../lib/flash';
import { finalSentence, formatDuration, formatTime, jobStateBadge, operationName } from '../lib/format';
import { navigate, paths } from '../lib/router';
import { useTitle } from '../lib/title';
import { useJobFollow } from '../lib/useJobFollow';
import type { Job, Service } from '../lib/types';
import { isFinal } from '../lib/types';

export function JobScreen({ service, job }: { service: string; job: string }) {
  const [info, setInfo] = useState<Job | null>(null);
  const [svc, setSvc] = useState<Service | null>(null);
  const [svcGone, setSvcGone] = useState(false);
  const [loadError, setLoadError] = useState('');
  const [actionError, setActionError] = useState('');
  const [actionInfo, setActionInfo] = useState('');
  const [cancelSent, setCancelSent] = useState(false);
  const [working, setWorking] = useState('');
  const [flash] = useState(takeFlash);

  const refresh = async () => {
    try {
      setInfo(await api.job(service, job));
      setLoadError('');
    } catch (err) {
      setLoadError(describe(err));
    }
  };

  const loadService = () =>
    api.service(service).then(
      (s) => {
        setSvc(s);
        setSvcGone(false);
      },
      (err) => {
        // A service deleted after its destroy: the job page stays readable.
        if (err instanceof ApiError && err.status === 404) setSvcGone(true);
      },
    );

  useEffect(() => {
    void refresh();
    void loadService();
  }, [service, job]);

  const { log, status, ended, error: streamError } = useJobFollow(service, job, () => {
    void refresh();
    void loadService();
  });

  const op = info?.operation ?? 'apply';
  const state = log.state ?? info?.state;
  const final = isFinal(state);
  const what = operationName(op);
  useTitle(`${what}${svc ? ' of ' + svc.name : ''}`);

  // Tell screen reader users about every state change, without moving their focus.
  const lastAnnounced = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (!state || !info || lastAnnounced.current === state) return;
    const first = lastAnnounced.current === undefined;
    lastAnnounced.current = state;
    if (first && final) return; // an old job opened from the history: nothing is happening
    announce(finalSentence(op, state, info.error));
  }, [state, info?.id]);

  const cancelRequested = cancelSent || !!info?.cancel_requested_at || state === 'cancelling';

  const cancel = async (force: boolean) => {
    setActionError('');
    setActionInfo('');
    setWorking(force ? 'force' : 'cancel');
    try {
      const j = await api.cancel(service, job, force);
      setInfo(j);
      setCancelSent(true);
      setActionInfo(force ? 'Force stop requested: the job is being killed.' : 'Cancel requested: the job stops at the next safe point.');
      announce(force ? 'Force stop requested.' : 'Cancel requested.');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'cool_off') setCancelSent(true);
      setActionError(describe(err));
    } finally {
      setWorking('');
    }
  };

  const applyPlan = async () => {
    setActionError('');
    setWorking('apply');
    try {
      const j = await api.startJob(service, 'apply');
      navigate(paths.job(service, j.id));
    } catch (err) {
      setActionError(describe(err));
      setWorking('');
    }
  };

  if (loadError && !info) {
    return (
      <section class="stack">
        <h1 tabIndex={-1}>Job</h1>
        <Notice tone="error">{loadError}</Notice>
        <p>
          <Link href={paths.service(service)}>Back to the service</Link>
        </p>
      </section>
    );
  }

  const badge = jobStateBadge(state);
  const bannerTone = !final ? 'info' : state === 'succeeded' ? 'success' : state === 'cancelled' ? 'neutral' : 'error';
  const plan = info?.plan;
  // The counts of what this job did: a plan's counts (announced before an apply) are not that.
  const changes = info?.changes ?? (log.summary?.operation === op ? log.summary : undefined);
  // A failed job's error leads with one plain sentence naming the cause; OpenTofu's own
  // message follows it, shown apart.
  const [cause, details] = splitError(info?.error);

  return (
    <section class="stack" aria-labelledby="job-title">
      <p class="crumbs">
        <Link href={paths.services()}>My services</Link> <span aria-hidden="true">›</span>{' '}
        {svcGone ? 'Deleted service' : <Link href={paths.service(service)}>{svc?.name ?? 'Service'}</Link>}{' '}
        <span aria-hidden="true">›</span> {what}
      </p>
      <div class="page-head">
        <h1 id="job-title" tabIndex={-1}>
          {what}
          {svc ? <span class="h1-sub"> of {svc.name}</span> : null}
        </h1>
        {info ? (
          <p class="muted">
            Started {formatTime(info.started_at ?? info.created_at)}
            {info.ended_at ? ` · took ${formatDuration(info.started_at ?? info.created_at, info.ended_at)}` : ''}
          </p>
        ) : null}
      </div>
      {flash ? <Notice tone={flash.tone}>{flash.text}</Notice> : null}

      {!info ? (
        <Loading what="the job" />
      ) : (
        <div class={`banner banner--${bannerTone}`} data-testid="job-banner" data-state={state}>
          <div class="banner__row">
            <Badge badge={badge} label="State" />
            {!final ? <span class="spinner" aria-hidden="true" /> : null}
            <p class="banner__text">{finalSentence(op, state ?? 'queued', cause)}</p>
          </div>
          {details ? (
            <details class="banner__detail" data-testid="job-error-details">
              <summary>What OpenTofu said</summary>
              <pre class="log">{details}</pre>
            </details>
          ) : null}
          {final && changes && (op === 'apply' || op === 'destroy') ? (
            <p class="banner__detail" data-testid="job-changes">
              {summarySentence(changes.add, changes.change, changes.remove, op, changes.failed, changes.not_reached)}
            </p>
          ) : null}
          {!final ? (
            <div class="actions">
              <button type="button" class="button" disabled={!!working || cancelRequested} onClick={() => void cancel(false)} data-testid="cancel">
                {working === 'cancel' ? 'Cancelling…' : 'Cancel'}
              </button>
              <button
                type="button"
                class="button button--danger"
                disabled={!!working || !cancelRequested}
                onClick={() => void cancel(true)}
                aria-describedby="force-hint"
                data-testid="force-stop"
              >
                {working === 'force' ? 'Stopping…' : 'Force stop'}
              </button>
              <span class="hint" id="force-hint">
                {cancelRequested ? 'Force stop kills OpenTofu; use it only if cancelling takes too long.' : 'Force stop becomes available after Cancel.'}
              </span>
            </div>
          ) : null}
        </div>
      )}
      {actionError ? <Notice tone="error" testid="job-action-error">{actionError}</Notice> : null}
      {actionInfo && !final ? <Notice tone="info">{actionInfo}</Notice> : null}
      {status === 'reconnecting' && !ended ? (
        <Notice tone="warn">
          The live connection was lost; reconnecting…{streamError ? ' ' + describe(streamError) : ''}
        </Notice>
      ) : null}

      {final && state === 'succeeded' && op === 'plan' && plan ? (
        <section class="panel" aria-labelledby="plan-title">
          <h2 id="plan-title">What will happen</h2>
          <PlanView plan={plan} />
          <div class="actions">
            <button type="button" class="button button--primary" disabled={!!working} onClick={() => void applyPlan()} data-testid="apply-plan">
              {working === 'apply' ? 'Starting…' : plan.has_changes ? 'Apply these changes' : 'Apply anyway'}
            </button>
            <Link href={paths.service(service)} class="button">
              Not now
            </Link>
          </div>
        </section>
      ) : null}

      {final && op === 'apply' && state === 'succeeded' && info?.outputs && Object.keys(info.outputs).length > 0 ? (
        <section class="panel" aria-labelledby="outputs-title">
          <h2 id="outputs-title">Endpoints and outputs</h2>
          <OutputsView outputs={info.outputs} reveal={async () => (await api.job(service, job, true)).outputs ?? {}} />
        </section>
      ) : null}

      {final && op === 'drift' && info?.drift ? (
        <section class="panel" aria-labelledby="drift-title">
          <h2 id="drift-title">Drift</h2>
          <DriftView report={info.drift} />
        </section>
      ) : null}

      {final && svcGone ? <Notice tone="info">The service has been deleted.</Notice> : null}
      {final && !(op === 'plan' && state === 'succeeded' && plan) ? (
        <p class="actions">
          {svcGone ? null : (
            <Link href={paths.service(service)} class="button">
              Go to the service
            </Link>
          )}
          <Link href={paths.services()} class="button button--quiet">
            My services
          </Link>
        </p>
      ) : null}

      {log.resources.size > 0 && !(op === 'plan' && final && plan) ? (
        <section class="panel" aria-labelledby="res-title">
          <h2 id="res-title">Resources</h2>
          <ResourceProgressList log={log} />
        </section>
      ) : null}

      <section class="panel" aria-labelledby="log-title">
        <h2 id="log-title">
          Log{' '}
          {!ended && status === 'live' ? (
            <span class="live-dot" data-testid="live">
              live
            </span>
          ) : null}
        </h2>
        <LogView log={log} />
      </section>
    </section>
  );
}

/** splitError separates a job error's first line (the cause, in plain words) from the rest (OpenTofu's message). */
export function splitError(error: string | undefined): [string | undefined, string] {
  if (!error) return [error, ''];
  const i = error.indexOf('\n');
  if (i < 0) return [error, ''];
  return [error.slice(0, i).trim(), error.slice(i + 1).trim()];
}
