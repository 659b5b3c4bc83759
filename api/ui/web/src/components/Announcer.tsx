import { useEffect, useState } from 'preact/hooks';

// One polite live region for the whole app: job state changes and results of actions
// are read out by screen readers without moving focus.

let setter: ((s: string) => void) | null = null;
let counter = 0;

export function announce(message: string): void {
  // Re-setting the same text would not be read again: make each message unique.
  counter++;
  setter?.(message + (counter % 2 ? '' : '\u00a0'));
}

export function Announcer() {
  const [text, setText] = useState('');
  useEffect(() => {
    setter = setText;
    return () => {
      setter = null;
    };
  }, []);
  return (
    <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-testid="announcer">
      {text}
    </div>
  );
}
