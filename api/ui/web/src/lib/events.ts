// A job's events folded into what the job page shows: the log (one line per event that
// says something), per-resource progress, the job's state and its change counts.
// Events are identified by seq: an event seen twice (from the JSON backlog and the
// stream, or after a reconnect) is applied once, whatever the order they arrive in.

import type { ChangeSummary, JobEvent, JobState, Output } from './types';
import { isFinal } from './types';

export type ResourcePhase = 'planned' | 'refreshing' | 'refreshed' | 'working' | 'done' | 'failed' | 'drifted';

export interface ResourceProgress {
  address: string;
  action?: string;
  phase: ResourcePhase;
  elapsed?: number;
  /** seq of the first event about the resource, so the list keeps a stable order. */
  firstSeq: number;
}

export interface LogLine {
  seq: number;
  time: string;
  level: 'info' | 'warn' | 'error';
  text: string;
}

export interface JobLog {
  /** Every seq applied, to drop duplicates. */
  seen: Set<number>;
  lastSeq: number;
  lines: LogLine[];
  resources: Map<string, ResourceProgress>;
  state?: JobState;
  /** seq of the job_state event that set state: an older one arriving late does not override it. */
  stateSeq: number;
  summary?: ChangeSummary;
  outputs?: Record<string, Output>;
  truncated: boolean;
}

export function emptyLog(): JobLog {
  return { seen: new Set(), lastSeq: 0, lines: [], resources: new Map(), stateSeq: -1, truncated: false };
}

/**
 * addEvents returns a new JobLog with the events applied (the input is not changed, so
 * a UI can compare references). Duplicates are ignored; events older than ones already
 * applied are put in place by seq.
 */
export function addEvents(log: JobLog, events: JobEvent[]): JobLog {
  const fresh = events.filter((e) => e && Number.isFinite(e.seq) && !log.seen.has(e.seq));
  if (fresh.length === 0) return log;
  // Apply in seq order; dedupe within the batch too.
  fresh.sort((a, b) => a.seq - b.seq);
  const next: JobLog = {
    seen: new Set(log.seen),
    lastSeq: log.lastSeq,
    lines: log.lines.slice(),
    resources: new Map(log.resources),
    state: log.state,
    stateSeq: log.stateSeq,
    summary: log.summary,
    outputs: log.outputs,
    truncated: log.truncated,
  };
  let outOfOrder = false;
  for (const e of fresh) {
    if (next.seen.has(e.seq)) continue;
    next.seen.add(e.seq);
    if (e.seq < next.lastSeq) outOfOrder = true;
    else next.lastSeq = e.seq;
    apply(next, e);
    const text = lineFor(e);
    if (text !== null) next.lines.push({ seq: e.seq, time: e.time, level: levelOf(e), text });
  }
  if (outOfOrder) next.lines.sort((a, b) => a.seq - b.seq);
  return next;
}

function levelOf(e: JobEvent): LogLine['level'] {
  if (e.type === 'diagnostic') return e.diagnostic?.severity === 'error' ? 'error' : 'warn';
  if (e.type === 'apply_errored') return 'error';
  if (e.level === 'error' || e.level === 'warn') return e.level;
  return 'info';
}

function touch(log: JobLog, address: string, seq: number, update: Partial<ResourceProgress>) {
  const cur = log.resources.get(address) ?? { address, phase: 'planned' as ResourcePhase, firstSeq: seq };
  log.resources.set(address, { ...cur, ...update });
}

function apply(log: JobLog, e: JobEvent) {
  const r = e.resource;
  switch (e.type) {
    case 'job_state':
      if (e.state && e.seq > log.stateSeq) {
        log.state = e.state;
        log.stateSeq = e.seq;
      }
      break;
    case 'planned_change':
      if (r) touch(log, r.address, e.seq, { action: r.action, phase: 'planned' });
      break;
    case 'resource_drift':
      if (r) touch(log, r.address, e.seq, { action: r.action, phase: 'drifted' });
      break;
    case 'refresh_start':
      if (r && !log.resources.has(r.address)) touch(log, r.address, e.seq, { phase: 'refreshing' });
      break;
    case 'refresh_complete':
      if (r && log.resources.get(r.address)?.phase === 'refreshing') touch(log, r.address, e.seq, { phase: 'refreshed' });
      break;
    case 'apply_start':
      if (r) touch(log, r.address, e.seq, { action: r.action ?? log.resources.get(r.address)?.action, phase: 'working' });
      break;
    case 'apply_progress':
      if (r) touch(log, r.address, e.seq, { phase: 'working', elapsed: r.elapsed_seconds });
      break;
    case 'apply_complete':
      if (r) touch(log, r.address, e.seq, { phase: 'done', elapsed: r.elapsed_seconds, action: r.action ?? log.resources.get(r.address)?.action });
      break;
    case 'apply_errored':
      if (r) touch(log, r.address, e.seq, { phase: 'failed', elapsed: r.elapsed_seconds });
      break;
    case 'change_summary':
      if (e.summary) log.summary = e.summary;
      break;
    case 'outputs':
      if (e.outputs) log.outputs = e.outputs;
      break;
    case 'truncated':
      log.truncated = true;
      break;
  }
}

const ACTION_VERB: Record<string, [string, string]> = {
  create: ['Creating', 'Created'],
  update: ['Changing', 'Changed'],
  delete: ['Destroying', 'Destroyed'],
  replace: ['Replacing', 'Replaced'],
  read: ['Reading', 'Read'],
  noop: ['Checking', 'Checked'],
  'no-op': ['Checking', 'Checked'],
};

export function actionWords(action: string | undefined): [string, string] {
  return ACTION_VERB[action ?? ''] ?? ['Working on', 'Finished'];
}

function seconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '';
  return s < 1 ? ' in under a second' : ` in ${Math.round(s)} s`;
}

export const STATE_WORDS: Record<JobState, string> = {
  queued: 'Waiting for its turn',
  running: 'Running',
  cancelling: 'Stopping',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

/** lineFor is the log line an event adds, or null for events only the progress list shows. */
export function lineFor(e: JobEvent): string | null {
  const r = e.resource;
  switch (e.type) {
    case 'log':
    case 'other':
      return e.message ? e.message : null;
    case 'job_state':
      return e.state ? `Job ${STATE_WORDS[e.state]?.toLowerCase() ?? e.state}${stateDetail(e)}` : null;
    case 'diagnostic': {
      const d = e.diagnostic;
      if (!d) return e.message ?? null;
      const head = d.severity === 'error' ? 'Error' : 'Warning';
      return `${head}: ${d.summary}${d.address ? ' (' + d.address + ')' : ''}${d.detail ? '\n' + d.detail : ''}`;
    }
    case 'planned_change':
      return r ? `Plan: ${r.address} will be ${actionPast(r.action)}` : null;
    case 'resource_drift':
      return r ? `Changed outside SpawnIt: ${r.address}${r.action ? ' (' + r.action + ')' : ''}` : null;
    case 'change_summary': {
      const s = e.summary;
      return s ? summarySentence(s.add, s.change, s.remove, s.operation) : null;
    }
    case 'apply_start':
      return r ? `${actionWords(r.action)[0]} ${r.address}…` : null;
    case 'apply_progress':
      return null;
    case 'apply_complete':
      return r ? `${actionWords(r.action)[1]} ${r.address}${seconds(r.elapsed_seconds)}` : null;
    case 'apply_errored':
      return r ? `Failed: ${r.address}${e.message ? ' — ' + e.message : ''}` : e.message ?? null;
    case 'refresh_start':
    case 'refresh_complete':
      return null;
    case 'outputs':
      // Before an apply, tofu announces the outputs it will have, without values.
      return e.outputs && Object.values(e.outputs).some((o) => o.value !== undefined || o.type !== undefined)
        ? 'Outputs are ready.'
        : null;
    case 'truncated':
      return 'The log became too long: later lines were not kept.';
    default:
      return e.message ?? null;
  }
}

/**
 * stateDetail is what a job_state event's message adds to the state: the engine writes
 * "job <state>[: detail]"; the detail of a failure is worth showing, the rest ("job
 * queued: apply tenant/service") repeats what the page already says.
 */
function stateDetail(e: JobEvent): string {
  const m = (e.message ?? '').trim();
  if (!m || e.state === 'queued' || e.state === 'running' || e.state === 'succeeded') return '';
  const prefix = `job ${e.state}`;
  let rest = m.toLowerCase().startsWith(prefix) ? m.slice(prefix.length).replace(/^[:\s]+/, '') : m;
  rest = rest.trim();
  return rest ? ': ' + rest : '';
}

export function actionPast(action: string | undefined): string {
  switch (action) {
    case 'create':
      return 'created';
    case 'update':
      return 'changed';
    case 'delete':
      return 'destroyed';
    case 'replace':
      return 'replaced (destroyed, then created again)';
    case 'read':
      return 'read';
    case 'no-op':
    case 'noop':
      return 'left unchanged';
    default:
      return action ? action : 'changed';
  }
}

/**
 * summarySentence: "Will create 3, change 0, destroy 0." for a plan, past tense for an apply or
 * destroy, saying what failed and what was never reached when it stopped on an error.
 */
export function summarySentence(add: number, change: number, remove: number, operation?: string, failed = 0, notReached = 0): string {
  if (operation === 'apply' || operation === 'destroy') {
    const stopped = failed + notReached > 0 ? ` ${failed} failed, ${notReached} not reached.` : '';
    return `Created ${add}, changed ${change}, destroyed ${remove}.${stopped}`;
  }
  return `Will create ${add}, change ${change}, destroy ${remove}.`;
}

export function finalState(log: JobLog): boolean {
  return isFinal(log.state);
}
