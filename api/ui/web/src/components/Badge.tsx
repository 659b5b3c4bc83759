import type { Badge as BadgeInfo } from '../lib/format';

/** A status badge: colour plus text (never colour alone), with a longer hint as title. */
export function Badge({ badge, label, testid }: { badge: BadgeInfo; label?: string; testid?: string }) {
  return (
    <span class={`badge badge--${badge.tone}${badge.pending ? ' badge--pending' : ''}`} title={badge.hint || undefined} data-testid={testid}>
      {label ? <span class="visually-hidden">{label}: </span> : null}
      <span class="badge__dot" aria-hidden="true" />
      {badge.text}
    </span>
  );
}
