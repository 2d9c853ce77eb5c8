import { useId } from 'react';
import type { NodeInfo } from '../api';
import { Banner } from './Banner';
import { useModal } from './useModal';

interface Props {
  node: NodeInfo;
  /** The removal is in flight: the buttons are disabled and Escape does nothing. */
  busy: boolean;
  /** The server's refusal, shown in the dialog so the admin can retry or cancel. */
  error: string | null;
  onConfirm(): void;
  onCancel(): void;
}


/** Asks before a node is removed: its certificate is revoked and its agent has to join again. */
export function NodeRemoveDialog({ node, busy, error, onConfirm, onCancel }: Props) {
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
        data-testid="node-remove-dialog"
      >
        <h2 className="modal-title" id={titleId}>
          Remove node {node.hostname || node.id}?
        </h2>
        <div id={descriptionId}>
          <p>
            The console revokes the certificate of node <span className="mono">{node.id}</span> and forgets it. Its agent
            is refused from then on: it disconnects and stops instead of reconnecting.
          </p>
          <p>
            To bring this host back later, make a new join command under <strong>Add a node</strong> and run it on the
            host: it joins again as a new node, with the labels given to that join command.
          </p>
        </div>

        {error ? (
          <Banner kind="error" title="The node was not removed." testId="node-remove-error">
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
            data-testid="node-remove-cancel"
          >
            Cancel
          </button>
          <button
            type="button"
            className="btn btn-danger"
            onClick={onConfirm}
            disabled={busy}
            data-testid="node-remove-confirm"
          >
            {busy ? 'Removing…' : 'Remove node'}
          </button>
        </div>
      </div>
    </div>
  );
}
