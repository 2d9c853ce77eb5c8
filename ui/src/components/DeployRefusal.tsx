import { api, ApiError, errorMessage, type DeploymentId } from '../api';
import { deploymentHref } from '../lifecycle';
import { Link } from '../router';

/** Why the console refused to start a deployment (deploy or rollback). */
export interface Refusal {
  code: string;
  message: string;
  /** For `409 deploy_in_progress`: the deployment that is running, when it could be read. */
  activeId: DeploymentId | null;
}

/**
 * Turns a refusal of `POST /app/deploy` or `/app/rollback` into what the page shows. The error body
 * does not name the running deployment, so for `deploy_in_progress` it is read from the list.
 */
export async function explainRefusal(e: unknown): Promise<Refusal> {
  const code = e instanceof ApiError ? e.code : 'error';
  let activeId: DeploymentId | null = null;
  if (code === 'deploy_in_progress') {
    try {
      activeId = (await api.deployments(1)).active;
    } catch {
      // The message alone still says what happened.
    }
  }
  return { code, message: errorMessage(e), activeId };
}

/** The body of the refusal banner: the console's message, and where to go from here. */
export function RefusalMessage({ refusal }: { refusal: Refusal }) {
  return (
    <>
      <p data-testid="deploy-error-message">{refusal.message}</p>
      {refusal.code === 'deploy_in_progress' ? (
        <p>
          {refusal.activeId !== null ? (
            <Link to={deploymentHref(refusal.activeId)} data-testid="deploy-active-link">
              Follow the running deployment
            </Link>
          ) : (
            <Link to="/history" data-testid="deploy-active-link">
              See the deployment history
            </Link>
          )}
          . Start this one again when it has finished.
        </p>
      ) : null}
      {refusal.code === 'preflight_failed' ? (
        <p>Run preflight again to see the failing checks. To deploy anyway, tick the override under the results.</p>
      ) : null}
    </>
  );
}
