import type { ComponentChildren } from 'preact';

type Tone = 'error' | 'success' | 'info' | 'warn';

/** A message box. Errors use role="alert" so they are read out when they appear. */
export function Notice({ tone, children, testid, title }: { tone: Tone; children: ComponentChildren; testid?: string; title?: string }) {
  return (
    <div class={`notice notice--${tone}`} role={tone === 'error' ? 'alert' : 'status'} data-testid={testid}>
      {title ? <p class="notice__title">{title}</p> : null}
      <div>{children}</div>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}
