import { Link } from '../router';
import { toneBadge, updateStateLabel, updateStateTone } from '../updates';
import { useUpdatesFeed } from '../updatesFeed';

/** The dashboard's updates card: the state and its message, and the advisories affecting the installed release. */
export function UpdatesSummary() {
  // The shell's feed: read on load and every minute, so the card costs no request of its own.
  const { status, failed } = useUpdatesFeed();

  return (
    <section className="card" data-testid="dashboard-updates">
      <div className="card-header">
        <h2 className="card-title">Updates</h2>
        <Link to="/updates" className="btn btn-small btn-secondary" data-testid="dashboard-updates-link">
          View updates
        </Link>
      </div>

      {status === undefined ? (
        failed ? (
          <p className="muted" data-testid="dashboard-updates-failed">
            The update status could not be read.
          </p>
        ) : (
          <p className="muted" role="status">
            Loading…
          </p>
        )
      ) : (
        <>
          <p>
            <span
              className={toneBadge(updateStateTone(status.state))}
              data-testid="dashboard-updates-state"
              data-value={status.state}
            >
              {updateStateLabel(status.state)}
            </span>
            {status.advisories.length > 0 ? (
              <span className="badge badge-bad badge-gap" data-testid="dashboard-updates-advisories">
                {status.advisories.length} {status.advisories.length === 1 ? 'advisory' : 'advisories'}
              </span>
            ) : null}
          </p>
          <p className="muted" data-testid="dashboard-updates-message">
            {status.message}
          </p>
        </>
      )}
    </section>
  );
}
