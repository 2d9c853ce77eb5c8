import type { UpdatesStatus } from '../api';
import { Link } from '../router';
import { advisoriesTone, advisoryCount, advisorySummary, licenseAlert } from '../updates';
import { Banner } from './Banner';

/**
 * The shell's alert about the license (revoked, expired) and the security advisories affecting
 * the installed release. Nothing at all when there is nothing to say or no answer yet.
 */
export function UpdateBanner({ status }: { status: UpdatesStatus | undefined }) {
  if (!status) return null;
  const license = licenseAlert(status);
  const advisories = status.advisories;
  if (license === null && advisories.length === 0) return null;

  return (
    <div className="update-banner" data-testid="update-banner">
      {license ? (
        <Banner
          kind={license.kind === 'revoked' ? 'error' : 'warning'}
          title={license.kind === 'revoked' ? 'License revoked' : 'License expired'}
          testId={`update-banner-license-${license.kind}`}
        >
          {license.text}{' '}
          <Link to={license.kind === 'revoked' ? '/updates' : '/license'}>
            {license.kind === 'revoked' ? 'See Updates' : 'Load a new license'}
          </Link>
        </Banner>
      ) : null}
      {advisories.length > 0 ? (
        <Banner kind={advisoriesTone(advisories)} title="Security advisory" testId="update-banner-advisories">
          {advisoryCount(advisories.length)} the installed release:{' '}
          {advisories.map((a, i) => (
            <span key={a.id} data-testid="update-banner-advisory" data-id={a.id}>
              {i > 0 ? '; ' : ''}
              {advisorySummary(a)}
            </span>
          ))}
          .{' '}
          <Link to="/updates" data-testid="update-banner-link">
            See Updates
          </Link>
        </Banner>
      ) : null}
    </div>
  );
}
