import { useId } from 'react';
import type { LicenseInspect } from '../api';
import { describeDaysLeft, expiryBadgeClass, formatDateTime, licenseExpiryLevel } from '../format';
import { Banner } from './Banner';
import { useModal } from './useModal';
import { Fingerprint } from './Fingerprint';

interface Props {
  inspect: LicenseInspect;
  /** The load is in flight: the buttons are disabled and Escape does nothing. */
  busy: boolean;
  onConfirm(): void;
  onCancel(): void;
}


/**
 * The first-load confirmation: the admin compares the fingerprint of the key that signed the
 * license with the one the vendor gave them, and only then is that key pinned.
 */
export function TrustDialog({ inspect, busy, onConfirm, onCancel }: Props) {
  const titleId = useId();
  const descriptionId = useId();
  const { dialogRef, cancelRef, onKeyDown } = useModal(busy, onCancel);
  const { claims } = inspect;
  const level = licenseExpiryLevel(claims.expires_at);
  const left = describeDaysLeft(claims.expires_at);

  return (
    <div className="modal-backdrop">
      <div
        ref={dialogRef}
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={descriptionId}
        onKeyDown={onKeyDown}
        data-testid="trust-dialog"
      >
        <h2 className="modal-title" id={titleId}>
          Trust this vendor key?
        </h2>
        <div id={descriptionId}>
          <p>
            This is the <strong>first license</strong> loaded into this console. The key that signed it becomes the
            console's trusted vendor key: from now on, only licenses and updates signed by this key are accepted.
          </p>
          <p>
            Compare the fingerprint below with the one your vendor gave you (for example in the delivery e-mail or by
            phone). Continue only if every character matches.
          </p>
        </div>

        <div className="modal-fingerprint">
          <div className="stat-label">Vendor key fingerprint (SHA-256)</div>
          <Fingerprint value={inspect.fingerprint} testId="trust-fingerprint" large />
        </div>

        <p className="muted small">The file claims the following; it is verified when the license is loaded.</p>
        <dl className="fields fields-compact">
          <div className="field">
            <dt>Customer</dt>
            <dd data-testid="trust-customer">{claims.customer}</dd>
          </div>
          <div className="field">
            <dt>Application</dt>
            <dd className="mono" data-testid="trust-app-id">
              {claims.app_id}
              {claims.channel ? <span className="muted"> · channel {claims.channel}</span> : null}
            </dd>
          </div>
          <div className="field">
            <dt>License ID</dt>
            <dd className="mono">{claims.license_id}</dd>
          </div>
          <div className="field">
            <dt>Expires</dt>
            <dd>
              <span data-testid="trust-expiry" data-value={claims.expires_at}>
                {formatDateTime(claims.expires_at)}
              </span>
              {left !== null ? <span className={expiryBadgeClass(level)}>{left}</span> : null}
            </dd>
          </div>
        </dl>

        {level === 'expired' ? (
          <Banner kind="warning" title="This license has expired.">
            The console will refuse it. Ask your vendor for a renewed license.
          </Banner>
        ) : null}

        <div className="modal-actions">
          <button
            ref={cancelRef}
            type="button"
            className="btn btn-secondary"
            onClick={onCancel}
            disabled={busy}
            data-testid="trust-cancel"
          >
            Cancel
          </button>
          <button
            type="button"
            className="btn btn-primary"
            onClick={onConfirm}
            disabled={busy}
            data-testid="trust-confirm"
          >
            {busy ? 'Loading…' : 'Trust this key and load'}
          </button>
        </div>
      </div>
    </div>
  );
}
