import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, errorMessage, isAbort, type SetupState } from '../api';
import { AuthCard } from '../components/AuthCard';
import { Banner } from '../components/Banner';
import { useDocumentTitle } from '../hooks';
import { Link, navigate, useLocation } from '../router';
import { MIN_PASSWORD_LENGTH, validateSetupPassword } from '../validation';

export const SETUP_DONE_NOTICE = 'The admin password is set. Log in with it.';

type LinkState =
  | { kind: 'checking' }
  | { kind: 'missing' }
  | { kind: 'valid' }
  | { kind: 'invalid'; adminConfigured: boolean; serverMessage?: string }
  | { kind: 'error'; message: string };

function FreshLinkHelp() {
  return (
    <p>
      To get a fresh setup link, run <code className="cmd">sudo outpostctl reset-password</code> on the console host
      and open the link it prints.
    </p>
  );
}

export function SetupPage() {
  useDocumentTitle('Set up');
  const { search } = useLocation();
  const token = new URLSearchParams(search).get('token') ?? '';

  const [link, setLink] = useState<LinkState>(token ? { kind: 'checking' } : { kind: 'missing' });
  const [attempt, setAttempt] = useState(0);
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  useEffect(() => {
    if (!token) {
      setLink({ kind: 'missing' });
      return;
    }
    const controller = new AbortController();
    setLink({ kind: 'checking' });
    api.setupState(token, controller.signal).then(
      (state: SetupState) => {
        setLink(
          state.token_valid ? { kind: 'valid' } : { kind: 'invalid', adminConfigured: state.admin_configured },
        );
      },
      (e: unknown) => {
        if (isAbort(e)) return;
        setLink({ kind: 'error', message: errorMessage(e) });
      },
    );
    return () => controller.abort();
  }, [token, attempt]);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (submitting) return;
    const problem = validateSetupPassword(password, confirm);
    if (problem) {
      setFormError(problem);
      return;
    }
    setFormError(null);
    setSubmitting(true);
    try {
      await api.setup(token, password);
      navigate('/login', { replace: true, state: { notice: SETUP_DONE_NOTICE } });
    } catch (e) {
      setSubmitting(false);
      if (e instanceof ApiError && e.code === 'setup_token_invalid') {
        setLink({ kind: 'invalid', adminConfigured: false, serverMessage: e.message });
        return;
      }
      setFormError(errorMessage(e));
    }
  }

  if (link.kind === 'checking') {
    return (
      <AuthCard title="Set up the console">
        <p className="muted" role="status">
          Checking the setup link…
        </p>
      </AuthCard>
    );
  }

  if (link.kind === 'error') {
    return (
      <AuthCard title="Set up the console">
        <Banner kind="error" title="The setup link could not be checked." testId="setup-error">
          <p>{link.message}</p>
        </Banner>
        <button type="button" className="btn btn-primary btn-block" onClick={() => setAttempt((n) => n + 1)}>
          Try again
        </button>
      </AuthCard>
    );
  }

  if (link.kind === 'missing' || link.kind === 'invalid') {
    const title =
      link.kind === 'missing'
        ? 'This address has no setup token.'
        : link.adminConfigured
          ? 'This setup link has already been used or has expired.'
          : 'This setup link is not valid.';
    return (
      <AuthCard title="Set up the console">
        <Banner kind="error" title={title} testId="setup-error">
          {link.kind === 'invalid' && link.serverMessage ? <p>{link.serverMessage}</p> : null}
          {link.kind === 'missing' ? (
            <p>Open the full setup link that the console printed at its first start (it ends in ?token=…).</p>
          ) : (
            <p>A setup link works once and only for a limited time.</p>
          )}
          <FreshLinkHelp />
        </Banner>
        {link.kind === 'invalid' && link.adminConfigured ? (
          <p className="auth-footer">
            If you have set the admin password already, <Link to="/login">log in</Link>.
          </p>
        ) : null}
      </AuthCard>
    );
  }

  return (
    <AuthCard
      title="Set up the console"
      subtitle="Choose the password of the admin account. You will use it to log in to this console."
    >
      <form className="form" onSubmit={onSubmit} noValidate>
        {formError ? (
          <Banner kind="error" testId="setup-error">
            {formError}
          </Banner>
        ) : null}
        <label className="label" htmlFor="setup-password">
          Password
        </label>
        <input
          id="setup-password"
          className="input"
          type="password"
          autoComplete="new-password"
          autoFocus
          minLength={MIN_PASSWORD_LENGTH}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-describedby="setup-password-hint"
          data-testid="setup-password"
        />
        <p id="setup-password-hint" className="hint">
          At least {MIN_PASSWORD_LENGTH} characters. A few unrelated words make a strong password.
        </p>
        <label className="label" htmlFor="setup-confirm">
          Confirm password
        </label>
        <input
          id="setup-confirm"
          className="input"
          type="password"
          autoComplete="new-password"
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
          data-testid="setup-confirm"
        />
        <button type="submit" className="btn btn-primary btn-block" disabled={submitting} data-testid="setup-submit">
          {submitting ? 'Saving…' : 'Set password'}
        </button>
      </form>
    </AuthCard>
  );
}
