// A message carried across one navigation ("Service created, but the plan could not
// start: …"), shown once by the next screen.

export interface Flash {
  tone: 'error' | 'success' | 'info' | 'warn';
  text: string;
}

let pending: Flash | null = null;

export function setFlash(f: Flash): void {
  pending = f;
}

export function takeFlash(): Flash | null {
  const f = pending;
  pending = null;
  return f;
}
