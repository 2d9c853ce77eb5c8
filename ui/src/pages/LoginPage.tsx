import { useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, errorMessage } from '../api';
import { AuthCard } from '../components/AuthCard';
import { Banner } from '../components/Banner';
import { useDocumentTitle } from '../hooks';
import { navigate, safeReturnPath, useLocation } from '../router';
import { readLoginState, useSession } from '../session';

/** What the login page shows for a failed attempt. */
export function loginErrorContent(e: unknown): ReactNode {
  if (e instanceof ApiError) {
    if (e.status === 429 || e.code === 'rate_limited') {
      return (
        <>
          <p>{e.message}</p>
          {e.retryAfter !== null ? (
            <p>
              Try again in <strong data-testid="login-retry-after">{e.retryAfter}</strong>{' '}
              {e.retryAfter === 1 ? 'second' : 'seconds'}.
            </p>
          ) : null}
        </>
      );
    }
    if (e.status === 409 || e.code === 'setup_required') {
      return (
        <>
          <p>{e.message}</p>
          <p>
            No admin password is set yet. Open the setup link the console printed at its first start (the line{' '}
            <code className="cmd">Setup link: https://…</code> in its output, e.g.{' '}
            <code className="cmd">journalctl -u outpost-console</code>). If it is lost or expired, run{' '}
            <code className="cmd">sudo outpostctl reset-password</code> on the console host for a fresh link.
          </p>
        </>
      );
    }
    return <p>{e.message}</p>;
  }
  return <p>{errorMessage(e)}</p>;
}

export function LoginPage() {
  useDocumentTitle('Log in');
  const { state } = useLocation();
  const { notice, from } = readLoginState(state);
  const { signedIn } = useSession();

  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [submitting, setSubmitting] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (submitting) return;
    if (password === '') {
      setError(new Error('Enter the admin password.'));
      return;
    }
    setSubmitting(true);
    setError(null);
    try {
      const session = await api.login(password);
      signedIn(session);
      navigate(safeReturnPath(from) ?? '/', { replace: true });
    } catch (e) {
      setError(e);
      setSubmitting(false);
    }
  }

  return (
    <AuthCard title="Log in" subtitle="Enter the admin password of this console.">
      <form className="form" onSubmit={onSubmit} noValidate>
        {notice && error === null ? (
          <Banner kind="success" testId="login-notice">
            {notice}
          </Banner>
        ) : null}
        {error !== null ? (
          <Banner kind="error" testId="login-error">
            {loginErrorContent(error)}
          </Banner>
        ) : null}
        <label className="label" htmlFor="login-password">
          Password
        </label>
        <input
          id="login-password"
          className="input"
          type="password"
          autoComplete="current-password"
          autoFocus
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          data-testid="login-password"
        />
        <button type="submit" className="btn btn-primary btn-block" disabled={submitting} data-testid="login-submit">
          {submitting ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </AuthCard>
  );
}
