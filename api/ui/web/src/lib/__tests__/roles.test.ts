import { describe, expect, it } from 'vitest';
import { canChange, quotaLines, quotaText, roleOf } from '../roles';

describe('roles', () => {
  it('lets deployers and operators change, not viewers', () => {
    expect(canChange({ role: 'viewer' })).toBe(false);
    expect(canChange({ role: 'deployer' })).toBe(true);
    expect(canChange({ role: 'operator' })).toBe(true);
  });
  it('treats a server that names no role as before roles (deployer)', () => {
    expect(roleOf({} as { role: 'viewer' })).toBe('deployer');
  });
});

describe('quota', () => {
  it('says usage against each limit and marks full ones', () => {
    const lines = quotaLines({
      tenant: 't',
      limits: { services: 3, deployed: 1, running_jobs: 0 },
      usage: { services: 2, deployed: 1, running_jobs: 4 },
      defaults: { services: 3, deployed: 1, running_jobs: 0 },
      override: {},
    });
    expect(lines.map(quotaText)).toEqual(['2 of 3 services', '1 of 1 deployed', '4 jobs running (no limit)']);
    expect(lines.map((l) => l.full)).toEqual([false, true, false]);
  });
});
