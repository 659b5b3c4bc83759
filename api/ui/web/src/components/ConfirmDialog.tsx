import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

interface Props {
  open: boolean;
  title: string;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  children?: ComponentChildren;
}

/**
 * ConfirmDialog is a native modal <dialog>: the browser keeps focus inside it, Escape
 * closes it, and focus returns to the button that opened it. The safe choice (Cancel)
 * gets the focus first.
 */
export function ConfirmDialog(p: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (p.open && !d.open) {
      d.showModal();
      cancelRef.current?.focus();
    } else if (!p.open && d.open) {
      d.close();
    }
  }, [p.open]);
  const titleId = 'dlg-' + p.title.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        p.onCancel();
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          p.onConfirm();
        }}
      >
        <h2 id={titleId} class="dialog__title">{p.title}</h2>
        <div class="dialog__body">{p.children}</div>
        <div class="actions">
          <button type="button" class="button" ref={cancelRef} onClick={p.onCancel}>
            Cancel
          </button>
          <button type="submit" class={`button ${p.danger ? 'button--danger' : 'button--primary'}`} disabled={p.busy}>
            {p.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
