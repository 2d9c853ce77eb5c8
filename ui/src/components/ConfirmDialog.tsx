import { useId, type ReactNode } from 'react';
import { Banner } from './Banner';
import { useModal } from './useModal';

interface Props {
  title: string;
  /** What happens when the admin confirms. */
  children: ReactNode;
  confirmLabel: string;
  busyLabel: string;
  /** `danger` for actions that interrupt the running app. */
  tone?: 'primary' | 'danger';
  /** The action is in flight: the buttons are disabled and Escape does nothing. */
  busy: boolean;
  /** The server's refusal, shown in the dialog so the admin can retry or cancel. */
  error: ReactNode | null;
  errorTitle: string;
  /** Prefix of the test hooks: `<testId>-dialog`, `-confirm`, `-cancel`, `-error`. */
  testId: string;
  onConfirm(): void;
  onCancel(): void;
}

/** Asks before an action on the running app (stop, restart, roll back); keyboard handling from `useModal`. */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  busyLabel,
  tone = 'primary',
  busy,
  error,
  errorTitle,
  testId,
  onConfirm,
  onCancel,
}: Props) {
  const titleId = useId();
  const descriptionId = useId();
  const { dialogRef, cancelRef, onKeyDown } = useModal(busy, onCancel);

  return (
    <div className="modal-backdrop">
      <div
        ref={dialogRef}
        className="modal"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={descriptionId}
        onKeyDown={onKeyDown}
        data-testid={`${testId}-dialog`}
      >
        <h2 className="modal-title" id={titleId}>
          {title}
        </h2>
        <div id={descriptionId}>{children}</div>

        {error ? (
          <Banner kind="error" title={errorTitle} testId={`${testId}-error`}>
            {error}
          </Banner>
        ) : null}

        <div className="modal-actions">
          <button
            ref={cancelRef}
            type="button"
            className="btn btn-secondary"
            onClick={onCancel}
            disabled={busy}
            data-testid={`${testId}-cancel`}
          >
            Cancel
          </button>
          <button
            type="button"
            className={`btn ${tone === 'danger' ? 'btn-danger' : 'btn-primary'}`}
            onClick={onConfirm}
            disabled={busy}
            data-testid={`${testId}-confirm`}
          >
            {busy ? busyLabel : confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
