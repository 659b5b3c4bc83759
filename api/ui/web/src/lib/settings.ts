// The service settings form (expiry, automatic repair): conversion between the API's
// RFC 3339 times and <input type="datetime-local"> values, and the PATCH body.

import type { ServiceSettings } from './api';
import type { Service } from './types';

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * toLocalInput turns an RFC 3339 time into a datetime-local value ("YYYY-MM-DDTHH:mm")
 * in the browser's time zone; "" for no time or an unreadable one.
 */
export function toLocalInput(iso: string | undefined | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * fromLocalInput reads a datetime-local value (local time, minutes or seconds) as an
 * RFC 3339 UTC time; null when it is not a valid date and time.
 */
export function fromLocalInput(value: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const date = new Date(y, mo - 1, d, h, mi, s, ms);
  // Reject days the Date constructor rolled over (2030-02-31 → March 3). The hour is not
  // compared: a time skipped by a daylight-saving change moves forward, as browsers do.
  if (Number.isNaN(date.getTime()) || date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d) return null;
  return date.toISOString();
}

export interface SettingsForm {
  /** The datetime-local value; "" means no expiry. */
  expires: string;
  autoRemediate: boolean;
}

export function settingsForm(svc: Pick<Service, 'expires_at' | 'auto_remediate'>): SettingsForm {
  return { expires: toLocalInput(svc.expires_at), autoRemediate: !!svc.auto_remediate };
}

export type SettingsBody =
  | { ok: true; body: ServiceSettings; changed: boolean }
  | { ok: false; field: 'expires'; error: string };

/**
 * settingsBody builds the PATCH body from the form, sending only what changed (an
 * expiry that has already passed would otherwise be refused on every save): a new
 * expiry as RFC 3339, null to remove it, auto_remediate when toggled.
 */
export function settingsBody(svc: Pick<Service, 'expires_at' | 'auto_remediate'>, form: SettingsForm, now = Date.now()): SettingsBody {
  const body: ServiceSettings = {};
  const before = settingsForm(svc);
  const expires = form.expires.trim();
  if (expires !== before.expires) {
    if (expires === '') {
      body.expires_at = null;
    } else {
      const iso = fromLocalInput(expires);
      if (iso === null) return { ok: false, field: 'expires', error: 'Enter a valid date and time.' };
      if (new Date(iso).getTime() <= now) return { ok: false, field: 'expires', error: 'Choose a time in the future.' };
      body.expires_at = iso;
    }
  }
  if (form.autoRemediate !== before.autoRemediate) body.auto_remediate = form.autoRemediate;
  return { ok: true, body, changed: Object.keys(body).length > 0 };
}

/** savedSentence says what a successful save changed. */
export function savedSentence(body: ServiceSettings, svc: Pick<Service, 'expires_at' | 'auto_remediate'>, formatTime: (iso: string) => string): string {
  const parts: string[] = [];
  if (body.expires_at === null) parts.push('the service no longer expires');
  else if (body.expires_at !== undefined) parts.push(`the service expires ${formatTime(svc.expires_at ?? body.expires_at)}`);
  if (body.auto_remediate !== undefined) {
    parts.push(body.auto_remediate ? 'drift is now repaired automatically' : 'drift is no longer repaired automatically');
  }
  if (parts.length === 0) return 'Settings saved.';
  return `Settings saved: ${parts.join(', and ')}.`;
}
