import { useCallback, useEffect, useMemo, useState, type ReactElement } from 'react';
import { api, errorMessage, setCsrfToken, setUnauthorizedHandler, type Session } from './api';
import { AuthCard } from './components/AuthCard';
import { Banner } from './components/Banner';
import { Layout } from './components/Layout';
import { guardRedirect, normalizePath, type AuthState } from './guard';
import { AppStatusPage } from './pages/AppStatusPage';
import { AuditPage } from './pages/AuditPage';
import { ConfigPage } from './pages/ConfigPage';
import { DashboardPage } from './pages/DashboardPage';
import { DeployPage } from './pages/DeployPage';
import { HistoryPage } from './pages/HistoryPage';
import { LicensePage } from './pages/LicensePage';
import { LoginPage } from './pages/LoginPage';
import { LogsPage } from './pages/LogsPage';
import { NetworkPage } from './pages/NetworkPage';
import { NodesPage } from './pages/NodesPage';
import { OutboundPage } from './pages/OutboundPage';
import { OutboundSettingsPage } from './pages/OutboundSettingsPage';
import { PreflightPage } from './pages/PreflightPage';
import { RegistriesPage } from './pages/RegistriesPage';
import { SetupPage } from './pages/SetupPage';
import { TlsPage } from './pages/TlsPage';
import { UpdatesPage } from './pages/UpdatesPage';
import { getLocation, Link, navigate, useLocation } from './router';
import { SessionContext, type LoginState, type SessionContextValue } from './session';

const SESSION_ENDED_NOTICE = 'Your session has ended. Please log in again.';

function currentPathForReturn(): string {
  const { pathname, search } = getLocation();
  return `${pathname}${search}`;
}

export function App() {
  const location = useLocation();
  const path = normalizePath(location.pathname);
  const [auth, setAuth] = useState<AuthState>('loading');
  const [session, setSession] = useState<Session | null>(null);
  const [sessionError, setSessionError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  // Ask the console whether this browser has a session.
  useEffect(() => {
    const controller = new AbortController();
    setSessionError(null);
    api.session(controller.signal).then(
      (s) => {
        setSession(s);
        setAuth(s ? 'authenticated' : 'anonymous');
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        // Without an answer the guarded pages cannot be shown; /setup and /login still work.
        setSessionError(errorMessage(e));
        setAuth('anonymous');
      },
    );
    return () => controller.abort();
  }, [attempt]);

  const signedOut = useCallback((notice?: string) => {
    setCsrfToken(null);
    setSession(null);
    setAuth('anonymous');
    const state: LoginState = notice ? { notice } : {};
    navigate('/login', { replace: true, state });
  }, []);

  // Any 401 from a route that needs a session: back to the login page, then back here after login.
  useEffect(() => {
    setUnauthorizedHandler(() => {
      const from = currentPathForReturn();
      setSession(null);
      setAuth('anonymous');
      if (normalizePath(getLocation().pathname) !== '/login') {
        navigate('/login', { replace: true, state: { notice: SESSION_ENDED_NOTICE, from } satisfies LoginState });
      }
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  const context = useMemo<SessionContextValue>(
    () => ({
      session,
      signedIn(s: Session) {
        setCsrfToken(s.csrf_token);
        setSession(s);
        setAuth('authenticated');
        setSessionError(null);
      },
      signedOut,
    }),
    [session, signedOut],
  );

  const redirect = sessionError && path !== '/setup' && path !== '/login' ? null : guardRedirect(path, auth);

  useEffect(() => {
    if (redirect === null) return;
    const state: LoginState | null = redirect === '/login' && path !== '/' ? { from: currentPathForReturn() } : null;
    navigate(redirect, { replace: true, state });
  }, [redirect, path]);

  let content: ReactElement;
  if (path === '/setup') {
    content = <SetupPage />;
  } else if (sessionError && path !== '/login') {
    content = (
      <AuthCard title="The console cannot be reached">
        <Banner kind="error">{sessionError}</Banner>
        <button type="button" className="btn btn-primary btn-block" onClick={() => setAttempt((n) => n + 1)}>
          Try again
        </button>
      </AuthCard>
    );
  } else if (auth === 'loading' || redirect !== null) {
    content = (
      <div className="boot" role="status">
        Loading…
      </div>
    );
  } else if (path === '/login') {
    content = <LoginPage />;
  } else {
    content = <Layout>{page(path)}</Layout>;
  }

  return <SessionContext.Provider value={context}>{content}</SessionContext.Provider>;
}

function page(path: string): ReactElement {
  switch (path) {
    case '/':
      return <DashboardPage />;
    case '/license':
      return <LicensePage />;
    case '/config':
      return <ConfigPage />;
    case '/nodes':
      return <NodesPage />;
    case '/preflight':
      return <PreflightPage />;
    case '/deploy':
      return <DeployPage />;
    case '/app':
      return <AppStatusPage />;
    case '/logs':
      return <LogsPage />;
    case '/history':
      return <HistoryPage />;
    case '/audit':
      return <AuditPage />;
    case '/outbound':
      return <OutboundPage />;
    case '/updates':
      return <UpdatesPage />;
    case '/network':
      return <NetworkPage />;
    case '/settings':
    case '/settings/tls':
      return <TlsPage />;
    case '/settings/registries':
      return <RegistriesPage />;
    case '/settings/outbound':
      return <OutboundSettingsPage />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  return (
    <div className="page">
      <h1>Page not found</h1>
      <p className="muted">
        There is no page at this address. Go to the <Link to="/">dashboard</Link>.
      </p>
    </div>
  );
}
