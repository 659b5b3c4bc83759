import { describe, expect, it } from 'vitest';
import { addEvents, emptyLog, lineFor, summarySentence } from '../events';
import type { EventType, JobEvent } from '../types';

const t = '2026-01-01T00:00:00Z';
const ev = (seq: number, type: EventType, extra: Partial<JobEvent> = {}): JobEvent => ({ seq, time: t, type, ...extra });

const applyRun: JobEvent[] = [
  ev(1, 'job_state', { state: 'running' }),
  ev(2, 'log', { message: 'OpenTofu has been initialized' }),
  ev(3, 'planned_change', { resource: { address: 'docker_image.httpecho', action: 'create' } }),
  ev(4, 'planned_change', { resource: { address: 'docker_container.httpecho', action: 'create' } }),
  ev(5, 'apply_start', { resource: { address: 'docker_image.httpecho', action: 'create' } }),
  ev(6, 'apply_complete', { resource: { address: 'docker_image.httpecho', action: 'create', elapsed_seconds: 0.2 } }),
  ev(7, 'apply_start', { resource: { address: 'docker_container.httpecho', action: 'create' } }),
  ev(8, 'apply_progress', { resource: { address: 'docker_container.httpecho', elapsed_seconds: 10 } }),
  ev(9, 'apply_complete', { resource: { address: 'docker_container.httpecho', action: 'create', elapsed_seconds: 12 } }),
  ev(10, 'change_summary', { summary: { add: 2, change: 0, remove: 0, import: 0, operation: 'apply' } }),
  ev(11, 'outputs', { outputs: { endpoint: { sensitive: false, value: 'http://127.0.0.1:18080/' } } }),
  ev(12, 'job_state', { state: 'succeeded' }),
];

describe('addEvents', () => {
  it('folds a run into lines, progress, summary and state', () => {
    const log = addEvents(emptyLog(), applyRun);
    expect(log.state).toBe('succeeded');
    expect(log.lastSeq).toBe(12);
    expect(log.summary).toEqual({ add: 2, change: 0, remove: 0, import: 0, operation: 'apply' });
    expect(log.outputs?.endpoint.value).toBe('http://127.0.0.1:18080/');
    expect([...log.resources.values()].map((r) => [r.address, r.phase])).toEqual([
      ['docker_image.httpecho', 'done'],
      ['docker_container.httpecho', 'done'],
    ]);
    const texts = log.lines.map((l) => l.text);
    expect(texts).toContain('OpenTofu has been initialized');
    expect(texts).toContain('Creating docker_container.httpecho…');
    expect(texts).toContain('Created docker_container.httpecho in 12 s');
    expect(texts).toContain('Created 2, changed 0, destroyed 0.');
    // apply_progress only updates the progress list
    expect(log.lines.some((l) => l.seq === 8)).toBe(false);
  });

  it('applies each seq once, whatever the overlap', () => {
    const a = addEvents(emptyLog(), applyRun.slice(0, 6));
    const b = addEvents(a, applyRun.slice(3, 12)); // overlaps 4..6
    const c = addEvents(b, applyRun); // everything again
    expect(c).toBe(b); // nothing new: same object
    expect(c.lines.map((l) => l.seq)).toEqual(addEvents(emptyLog(), applyRun).lines.map((l) => l.seq));
    expect(new Set(c.lines.map((l) => l.seq)).size).toBe(c.lines.length);
  });

  it('dedupes within one batch and keeps lines in seq order when events come late', () => {
    const log = addEvents(emptyLog(), [applyRun[1], applyRun[1], applyRun[0]]);
    expect(log.lines.map((l) => l.seq)).toEqual([1, 2]);
    const late = addEvents(addEvents(emptyLog(), [applyRun[11]]), [applyRun[0], applyRun[1]]);
    expect(late.lines.map((l) => l.seq)).toEqual([1, 2, 12]);
    // The older job_state (running) must not override the newer one (succeeded).
    expect(late.state).toBe('succeeded');
  });

  it('does not change its input', () => {
    const a = addEvents(emptyLog(), applyRun.slice(0, 3));
    const snapshot = a.lines.length;
    addEvents(a, applyRun.slice(3));
    expect(a.lines.length).toBe(snapshot);
    expect(a.seen.size).toBe(3);
  });

  it('marks failures, diagnostics and truncation', () => {
    const log = addEvents(emptyLog(), [
      ev(1, 'apply_start', { resource: { address: 'docker_container.x', action: 'create' } }),
      ev(2, 'apply_errored', { resource: { address: 'docker_container.x' }, message: 'port is already allocated' }),
      ev(3, 'diagnostic', { diagnostic: { severity: 'error', summary: 'Error starting container', detail: 'port in use' } }),
      ev(4, 'truncated'),
      ev(5, 'job_state', { state: 'failed' }),
    ]);
    expect(log.resources.get('docker_container.x')?.phase).toBe('failed');
    expect(log.lines.find((l) => l.seq === 3)).toMatchObject({ level: 'error', text: 'Error: Error starting container\nport in use' });
    expect(log.lines.find((l) => l.seq === 2)?.level).toBe('error');
    expect(log.truncated).toBe(true);
    expect(log.state).toBe('failed');
  });
});

describe('words', () => {
  it('says what a plan will do', () => {
    expect(summarySentence(3, 0, 0)).toBe('Will create 3, change 0, destroy 0.');
    expect(summarySentence(0, 1, 2, 'apply')).toBe('Created 0, changed 1, destroyed 2.');
    expect(lineFor(ev(1, 'planned_change', { resource: { address: 'a.b', action: 'replace' } }))).toBe(
      'Plan: a.b will be replaced (destroyed, then created again)',
    );
    expect(lineFor(ev(1, 'refresh_start', { resource: { address: 'a.b' } }))).toBeNull();
    expect(lineFor(ev(1, 'job_state', { state: 'cancelling' }))).toBe('Job stopping');
    // The engine's own "job <state>: …" text is kept only when it says more than the state.
    expect(lineFor(ev(1, 'job_state', { state: 'queued', message: 'job queued: apply local/svc-1' }))).toBe('Job waiting for its turn');
    expect(lineFor(ev(1, 'job_state', { state: 'running', message: 'job running' }))).toBe('Job running');
    expect(lineFor(ev(1, 'job_state', { state: 'failed', message: 'job failed: exit status 1' }))).toBe('Job failed: exit status 1');
    expect(lineFor(ev(1, 'job_state', { state: 'interrupted', message: 'server restarted' }))).toBe('Job interrupted: server restarted');
    // Outputs announced before an apply have no values yet.
    expect(lineFor(ev(1, 'outputs', { outputs: { endpoint: { sensitive: false } } }))).toBeNull();
    expect(lineFor(ev(1, 'outputs', { outputs: { endpoint: { sensitive: false, type: 'string', value: 'x' } } }))).toBe('Outputs are ready.');
  });
});
