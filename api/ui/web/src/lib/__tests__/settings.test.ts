import { describe, expect, it } from 'vitest';
import { fromLocalInput, savedSentence, settingsBody, settingsForm, toLocalInput } from '../settings';
import { EXPIRED_BADGE, finalSentence, healthBadge, operationName } from '../format';

const NOW = new Date(2030, 0, 1, 12, 0).getTime();

describe('datetime-local conversion', () => {
  it('reads a datetime-local value as local time and gives RFC 3339 in UTC', () => {
    expect(fromLocalInput('2030-01-02T03:04')).toBe(new Date(2030, 0, 2, 3, 4).toISOString());
    expect(fromLocalInput('2030-01-02T03:04:05')).toBe(new Date(2030, 0, 2, 3, 4, 5).toISOString());
    expect(fromLocalInput('2030-01-02T03:04')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('refuses what is not a date and time', () => {
    for (const v of ['', 'tomorrow', '2030-01-02', '2030-02-31T10:00', '2030-13-01T10:00', '2030-01-02T25:00']) {
      expect(fromLocalInput(v), v).toBeNull();
    }
  });

  it('shows an RFC 3339 time in the input and round-trips it', () => {
    const iso = new Date(2031, 5, 7, 8, 9).toISOString();
    expect(toLocalInput(iso)).toBe('2031-06-07T08:09');
    expect(fromLocalInput(toLocalInput(iso))).toBe(iso);
    expect(toLocalInput(undefined)).toBe('');
    expect(toLocalInput('not a time')).toBe('');
  });
});

describe('settings PATCH body', () => {
  const none = { expires_at: undefined, auto_remediate: false };
  const withExpiry = { expires_at: new Date(2030, 5, 1, 9, 30).toISOString(), auto_remediate: true };

  it('sends a new expiry as RFC 3339', () => {
    const r = settingsBody(none, { expires: '2030-02-03T04:05', autoRemediate: false }, NOW);
    expect(r).toEqual({ ok: true, changed: true, body: { expires_at: new Date(2030, 1, 3, 4, 5).toISOString() } });
  });

  it('sends null to remove the expiry', () => {
    const r = settingsBody(withExpiry, { expires: '', autoRemediate: true }, NOW);
    expect(r).toEqual({ ok: true, changed: true, body: { expires_at: null } });
    expect(JSON.stringify(r.ok && r.body)).toBe('{"expires_at":null}');
  });

  it('sends only what changed', () => {
    expect(settingsBody(withExpiry, settingsForm(withExpiry), NOW)).toEqual({ ok: true, changed: false, body: {} });
    expect(settingsBody(withExpiry, { ...settingsForm(withExpiry), autoRemediate: false }, NOW)).toEqual({
      ok: true,
      changed: true,
      body: { auto_remediate: false },
    });
    expect(settingsBody(none, { expires: '', autoRemediate: true }, NOW)).toEqual({ ok: true, changed: true, body: { auto_remediate: true } });
  });

  it('keeps a past expiry that was not touched (toggling auto-remediation still saves)', () => {
    const past = { expires_at: new Date(2029, 0, 1).toISOString(), auto_remediate: false };
    expect(settingsBody(past, { ...settingsForm(past), autoRemediate: true }, NOW)).toEqual({ ok: true, changed: true, body: { auto_remediate: true } });
  });

  it('refuses an expiry in the past or an invalid one, next to the field', () => {
    expect(settingsBody(none, { expires: '2029-12-31T23:59', autoRemediate: false }, NOW)).toEqual({
      ok: false,
      field: 'expires',
      error: 'Choose a time in the future.',
    });
    expect(settingsBody(none, { expires: '2030-01-01T12:00', autoRemediate: false }, NOW)).toMatchObject({ ok: false });
    expect(settingsBody(none, { expires: '2030-02-30T10:00', autoRemediate: false }, NOW)).toEqual({
      ok: false,
      field: 'expires',
      error: 'Enter a valid date and time.',
    });
  });

  it('says what was saved', () => {
    const fmt = () => 'Feb 3, 2030, 4:05 AM';
    expect(savedSentence({ expires_at: null }, none, fmt)).toBe('Settings saved: the service no longer expires.');
    expect(savedSentence({ expires_at: 'x', auto_remediate: true }, { expires_at: 'x', auto_remediate: true }, fmt)).toBe(
      'Settings saved: the service expires Feb 3, 2030, 4:05 AM, and drift is now repaired automatically.',
    );
    expect(savedSentence({ auto_remediate: false }, none, fmt)).toBe('Settings saved: drift is no longer repaired automatically.');
  });
});

describe('health and expiry words', () => {
  it('badges every health value, none when absent', () => {
    expect(healthBadge(undefined)).toBeNull();
    expect(healthBadge('healthy')).toMatchObject({ tone: 'ok', text: 'Healthy' });
    expect(healthBadge('not_ready', 'http check failed')).toMatchObject({ tone: 'bad', text: 'Not ready' });
    expect(healthBadge('not_ready', 'http check failed')!.hint).toMatch(/http check failed\.$/);
    expect(healthBadge('unhealthy')).toMatchObject({ tone: 'bad', text: 'Unhealthy' });
    expect(healthBadge('unknown')).toMatchObject({ tone: 'neutral', text: 'Health unknown' });
    expect(EXPIRED_BADGE.text).toBe('Expired');
  });

  it('names the accept operation', () => {
    expect(operationName('accept')).toBe('Keep changes');
    expect(finalSentence('accept', 'succeeded')).toMatch(/^Changes kept/);
    expect(finalSentence('accept', 'failed', 'boom')).toBe('Keep changes failed: boom.');
  });
});
