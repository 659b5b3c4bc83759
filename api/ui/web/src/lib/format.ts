// Words for the API's states, and small formatting helpers.

import type { DriftStatus, IntentKind, JobState, Operation, Service, ServiceStatus, StatusEvent } from './types';

export interface Badge {
  /** CSS modifier: badge--<tone>. */
  tone: 'ok' | 'warn' | 'bad' | 'info' | 'neutral' | 'special';
  text: string;
  /** A longer explanation for the title and screen readers. */
  hint: string;
  /** Not confirmed yet: drawn with a dashed border (the text says so too). */
  pending?: boolean;
}

export const DRIFT: Record<DriftStatus, Badge> = {
  in_sync: { tone: 'ok', text: 'In sync', hint: 'What runs matches the configuration.' },
  drifted: { tone: 'warn', text: 'Drifted', hint: 'Something was changed outside SpawnIt. Apply to put it back.' },
  missing: { tone: 'bad', text: 'Missing', hint: 'Resources SpawnIt deployed are gone. Apply to recreate them.' },
  orphaned: { tone: 'special', text: 'Orphaned', hint: 'Resources still exist although the service was destroyed.' },
  pending: { tone: 'info', text: 'Pending', hint: 'The configuration has changes that are not applied yet.' },
  unknown: { tone: 'neutral', text: 'Unknown', hint: 'The last drift check could not finish.' },
  not_checked: { tone: 'neutral', text: 'Not checked', hint: 'No drift check has run yet.' },
};

export function driftBadge(s: DriftStatus | string | undefined): Badge {
  return DRIFT[(s ?? 'not_checked') as DriftStatus] ?? { tone: 'neutral', text: String(s), hint: '' };
}

/**
 * statusDriftBadge words a service's drift status. A drift reported by a Docker event
 * that the OpenTofu check has not confirmed yet says so in its text (not only its
 * colour), with what Docker reported as the reason.
 */
export function statusDriftBadge(status: Pick<ServiceStatus, 'drift' | 'drift_unconfirmed' | 'drift_signal'>): Badge {
  const b = driftBadge(status.drift);
  if (!status.drift_unconfirmed) return b;
  const why = status.drift_signal ? `Docker reported: ${sentence(status.drift_signal)} ` : 'Docker reported a change. ';
  return {
    tone: 'warn',
    text: `${b.text}, awaiting confirmation`,
    hint: `${why}SpawnIt is checking with OpenTofu to confirm it.`,
    pending: true,
  };
}

/**
 * driftAnnouncement is what the live region says when a drift event arrives for a
 * service on screen: the Docker report at once, then what the OpenTofu check found
 * (only when it follows a report still awaiting confirmation). "" says nothing.
 */
export function driftAnnouncement(name: string, before: Pick<ServiceStatus, 'drift_unconfirmed'>, ev: Pick<StatusEvent, 'kind' | 'drift' | 'unconfirmed' | 'message'>): string {
  if (ev.kind !== 'drift' || !ev.drift) return '';
  const what = driftBadge(ev.drift).text.toLowerCase();
  if (ev.unconfirmed) return `“${name}”: ${what}, awaiting confirmation.${ev.message ? ' Docker reported: ' + sentence(ev.message) : ''}`;
  if (before.drift_unconfirmed) return `“${name}”: the OpenTofu check confirms: ${what}.`;
  return '';
}

/** sentence ends a message with a full stop when it has no ending punctuation. */
function sentence(s: string): string {
  const t = s.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

export function intentBadge(i: IntentKind | undefined): Badge {
  switch (i) {
    case 'applied':
      return { tone: 'ok', text: 'Deployed', hint: 'The last successful operation was an apply.' };
    case 'destroyed':
      return { tone: 'neutral', text: 'Destroyed', hint: 'The last successful operation was a destroy.' };
    default:
      return { tone: 'neutral', text: 'Not deployed', hint: 'Nothing has been applied yet.' };
  }
}

/** healthBadge words Service.status.health (the last health result); null when absent. */
export function healthBadge(h: string | undefined, message?: string): Badge | null {
  if (!h) return null;
  const why = message ? ` ${message.trim().replace(/([^.!?])$/, '$1.')}` : '';
  switch (h) {
    case 'healthy':
      return { tone: 'ok', text: 'Healthy', hint: 'The readiness checks passed.' };
    case 'not_ready':
      return { tone: 'bad', text: 'Not ready', hint: 'The readiness checks of the last apply failed.' + why };
    case 'unhealthy':
      return { tone: 'bad', text: 'Unhealthy', hint: 'A readiness check failed when SpawnIt checked again.' + why };
    case 'unknown':
      return { tone: 'neutral', text: 'Health unknown', hint: 'The readiness checks could not run.' + why };
    default:
      return { tone: 'neutral', text: h, hint: message ?? '' };
  }
}

export const STOPPED_BADGE: Badge = {
  tone: 'neutral',
  text: 'Stopped',
  hint: 'Stopped on purpose: SpawnIt does not check or repair it until it is started again.',
};

export const EXPIRED_BADGE: Badge = {
  tone: 'special',
  text: 'Expired',
  hint: 'Its expiry passed, so SpawnIt destroyed it. Its configuration is kept.',
};

export function jobStateBadge(s: JobState | undefined): Badge {
  switch (s) {
    case 'queued':
      return { tone: 'info', text: 'Queued', hint: 'Waiting for another job to finish.' };
    case 'running':
      return { tone: 'info', text: 'Running', hint: 'OpenTofu is working.' };
    case 'cancelling':
      return { tone: 'warn', text: 'Stopping', hint: 'Stopping after a cancel.' };
    case 'succeeded':
      return { tone: 'ok', text: 'Succeeded', hint: 'The job finished without errors.' };
    case 'failed':
      return { tone: 'bad', text: 'Failed', hint: 'The job stopped with an error.' };
    case 'cancelled':
      return { tone: 'neutral', text: 'Cancelled', hint: 'The job was cancelled.' };
    case 'interrupted':
      return { tone: 'bad', text: 'Interrupted', hint: 'The server stopped while the job ran.' };
    default:
      return { tone: 'neutral', text: 'Unknown', hint: '' };
  }
}

export const OPERATION_NAME: Record<Operation, string> = {
  plan: 'Plan',
  apply: 'Apply',
  destroy: 'Destroy',
  drift: 'Drift check',
  accept: 'Keep changes',
  outputs: 'Outputs',
};

export function operationName(op: Operation | string): string {
  return OPERATION_NAME[op as Operation] ?? op;
}

/** What a finished job's banner says. */
export function finalSentence(op: Operation | string, state: JobState, error?: string): string {
  const what = operationName(op);
  switch (state) {
    case 'succeeded':
      switch (op) {
        case 'apply':
          return 'Deployed: the service is up to date.';
        case 'destroy':
          return 'Destroyed: everything this service deployed is gone.';
        case 'plan':
          return 'The plan is ready. Review it below.';
        case 'drift':
          return 'The drift check is done.';
        case 'accept':
          return 'Changes kept: SpawnIt now records what runs as this service’s state.';
        default:
          return `${what} succeeded.`;
      }
    case 'failed':
      return `${what} failed${error ? ': ' + error.replace(/\s+$/, '') : '.'}${error && !/[.!?]$/.test(error.trim()) ? '.' : ''}`;
    case 'cancelled':
      return `${what} was cancelled.`;
    case 'interrupted':
      return `${what} was interrupted: SpawnIt stopped while it ran. Run it again.`;
    case 'queued':
      return `${what} is waiting for another job of this service to finish.`;
    case 'cancelling':
      return `${what} is stopping.`;
    default:
      return `${what} is running.`;
  }
}

export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 1971) return '';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatDuration(startISO?: string, endISO?: string): string {
  if (!startISO || !endISO) return '';
  const ms = new Date(endISO).getTime() - new Date(startISO).getTime();
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${s % 60} s`;
}

/** An output value as text: strings as they are, anything else as compact JSON. */
export function outputText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Only http(s) URLs become links. */
export function isLink(text: string): boolean {
  return /^https?:\/\/[^\s"'<>]+$/i.test(text);
}

export function serviceBusy(s: Service): boolean {
  return s.status.busy || (!!s.status.last_job && ['queued', 'running', 'cancelling'].includes(s.status.last_job.state));
}

/** Catalog icons are an emoji, an inline <svg> or a data:image/ URI (catalog.checkIcon). */
export type Icon = { kind: 'text'; text: string } | { kind: 'image'; src: string } | { kind: 'none' };

export function iconOf(icon: string | undefined): Icon {
  const s = (icon ?? '').trim();
  if (s === '') return { kind: 'none' };
  const lower = s.toLowerCase();
  if (lower.startsWith('data:image/')) return { kind: 'image', src: s };
  // Shown as an image, an SVG can neither run script nor load anything.
  if (lower.startsWith('<svg')) return { kind: 'image', src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(s) };
  return { kind: 'text', text: s };
}

export function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

const TARGET_LABELS: Record<string, string> = {
  docker: 'Docker on this machine',
  aws: 'AWS (an EC2 instance)',
  kubernetes: 'Kubernetes',
};

/** targetLabel names a deployment target for people. */
export function targetLabel(p: string): string {
  return TARGET_LABELS[p] ?? p;
}
