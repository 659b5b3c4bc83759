// What the signed-in user's role lets the UI offer. The server decides (every refusal is
// a 403 forbidden, audited); the UI only hides what would be refused.

import type { Me, QuotaUsage, Role } from './types';

/** The user's role; a server that names none (older than roles) let everyone change their services. */
export function roleOf(me: Pick<Me, 'role'>): Role {
  return me.role ?? 'deployer';
}

/** Whether the user may create and change services and run their jobs (deployer, operator). */
export function canChange(me: Pick<Me, 'role'>): boolean {
  return roleOf(me) !== 'viewer';
}

export const ROLE_LABEL: Record<Role, string> = {
  viewer: 'Viewer',
  deployer: 'Deployer',
  operator: 'Operator',
};

export interface QuotaLine {
  what: string;
  used: number;
  /** 0: no limit. */
  limit: number;
  /** At or over the limit: the next one would be refused. */
  full: boolean;
}

/** The usage lines of a tenant's quota, for display ("2 of 5 services"). */
export function quotaLines(q: QuotaUsage): QuotaLine[] {
  const line = (what: string, used: number, limit: number): QuotaLine => ({ what, used, limit, full: limit > 0 && used >= limit });
  return [
    line('services', q.usage.services, q.limits.services),
    line('deployed', q.usage.deployed, q.limits.deployed),
    line('jobs running', q.usage.running_jobs, q.limits.running_jobs),
  ];
}

export function quotaText(l: QuotaLine): string {
  return l.limit > 0 ? `${l.used} of ${l.limit} ${l.what}` : `${l.used} ${l.what} (no limit)`;
}
