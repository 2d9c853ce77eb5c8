import type { TlsInfo } from '../api';
import { describeDaysLeft, expiryLevel, formatDateTime, EXPIRY_WARNING_DAYS } from '../format';
import { Banner } from './Banner';
import { CopyButton } from './CopyButton';

interface Props {
  tls: TlsInfo;
  /** Put the stable `data-testid` hooks on the fields (only one instance per page may). */
  withTestIds?: boolean;
  now?: Date;
}

function tid(on: boolean, id: string): string | undefined {
  return on ? id : undefined;
}

export function CertificateDetails({ tls, withTestIds = true, now }: Props) {
  const at = now ?? new Date();
  const left = describeDaysLeft(tls.not_after, at);
  const level = expiryLevel(tls.not_before, tls.not_after, at);
  const sans = [...tls.dns_names, ...tls.ip_addresses];

  return (
    <div className="cert">
      {level === 'expired' ? (
        <Banner kind="error" title="The certificate has expired.">
          Browsers refuse it. Upload a new certificate under Settings → TLS certificate.
        </Banner>
      ) : null}
      {level === 'warning' ? (
        <Banner kind="warning" title="The certificate expires soon.">
          It is valid for less than {EXPIRY_WARNING_DAYS} days. Upload a renewed certificate before{' '}
          {formatDateTime(tls.not_after)}.
        </Banner>
      ) : null}
      {level === 'not_yet_valid' ? (
        <Banner kind="warning" title="The certificate is not valid yet.">
          It becomes valid on {formatDateTime(tls.not_before)}. Check the clock of the console host.
        </Banner>
      ) : null}

      <dl className="fields">
        <div className="field">
          <dt>Subject</dt>
          <dd className="mono" data-testid={tid(withTestIds, 'tls-subject')}>
            {tls.subject}
          </dd>
        </div>
        <div className="field">
          <dt>Issuer</dt>
          <dd className="mono">
            {tls.issuer}{' '}
            {tls.self_signed ? (
              <span className="badge badge-neutral" title="Browsers will warn until you upload a certificate they trust.">
                Self-signed
              </span>
            ) : (
              <span className="badge badge-ok">CA-issued</span>
            )}
          </dd>
        </div>
        <div className="field">
          <dt>SHA-256 fingerprint</dt>
          <dd className="fingerprint-row">
            <code className="fingerprint" data-testid={tid(withTestIds, 'tls-fingerprint')}>
              {tls.fingerprint_sha256}
            </code>
            <CopyButton text={tls.fingerprint_sha256} />
          </dd>
        </div>
        <div className="field">
          <dt>Valid from</dt>
          <dd>{formatDateTime(tls.not_before)}</dd>
        </div>
        <div className="field">
          <dt>Valid until</dt>
          <dd>
            <span data-testid={tid(withTestIds, 'tls-expiry')} data-value={tls.not_after}>
              {formatDateTime(tls.not_after)}
            </span>
            {left !== null ? (
              <span className={`badge ${level === 'ok' ? 'badge-ok' : level === 'warning' ? 'badge-warn' : 'badge-bad'}`}>
                {left}
              </span>
            ) : null}
          </dd>
        </div>
        <div className="field">
          <dt>Subject alternative names</dt>
          <dd>
            {sans.length === 0 ? (
              <span className="muted">None</span>
            ) : (
              <ul className="chips">
                {tls.dns_names.map((name) => (
                  <li key={`dns:${name}`} className="chip" title="DNS name">
                    {name}
                  </li>
                ))}
                {tls.ip_addresses.map((ip) => (
                  <li key={`ip:${ip}`} className="chip chip-ip" title="IP address">
                    {ip}
                  </li>
                ))}
              </ul>
            )}
          </dd>
        </div>
      </dl>
    </div>
  );
}
