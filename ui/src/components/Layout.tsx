import { useEffect, useState, type ReactNode } from 'react';
import logoUrl from '../assets/logo.svg';
import { api, ApiError, errorMessage, isAbort } from '../api';
import { Link, useLocation } from '../router';
import { useSession } from '../session';
import { UpdatesFeedContext, useUpdatesPoll } from '../updatesFeed';
import { Banner } from './Banner';
import { UpdateBanner } from './UpdateBanner';

interface NavItem {
  to: string;
  label: string;
  testId: string;
  section?: string;
}

const NAV: NavItem[] = [
  { to: '/', label: 'Dashboard', testId: 'nav-dashboard' },
  { to: '/license', label: 'License', testId: 'nav-license' },
  { to: '/config', label: 'Config', testId: 'nav-config' },
  { to: '/nodes', label: 'Nodes', testId: 'nav-nodes' },
  { to: '/preflight', label: 'Preflight', testId: 'nav-preflight' },
  { to: '/deploy', label: 'Deploy', testId: 'nav-deploy' },
  { to: '/app', label: 'Application', testId: 'nav-app' },
  { to: '/logs', label: 'Logs', testId: 'nav-logs' },
  { to: '/history', label: 'History', testId: 'nav-history' },
  { to: '/updates', label: 'Updates', testId: 'nav-updates' },
  { to: '/network', label: 'Network', testId: 'nav-network' },
  { to: '/audit', label: 'Audit log', testId: 'nav-audit' },
  { to: '/outbound', label: 'Outbound log', testId: 'nav-outbound' },
  { to: '/settings/tls', label: 'TLS certificate', testId: 'nav-tls', section: 'Settings' },
  { to: '/settings/registries', label: 'Registries', testId: 'nav-registries', section: 'Settings' },
  { to: '/settings/outbound', label: 'Outbound settings', testId: 'nav-outbound-settings', section: 'Settings' },
];

function isActive(item: NavItem, pathname: string): boolean {
  if (item.to === '/') return pathname === '/';
  return pathname === item.to || pathname.startsWith(`${item.to}/`);
}

export function Layout({ children }: { children: ReactNode }) {
  const { pathname } = useLocation();
  const { session, signedOut } = useSession();
  const [version, setVersion] = useState<string | null>(null);
  const [loggingOut, setLoggingOut] = useState(false);
  const [logoutError, setLogoutError] = useState<string | null>(null);
  const updates = useUpdatesPoll();

  useEffect(() => {
    const controller = new AbortController();
    api.health(controller.signal).then(
      (health) => setVersion(health.version),
      (e: unknown) => {
        if (!isAbort(e)) setVersion(null);
      },
    );
    return () => controller.abort();
  }, []);

  async function logout() {
    if (loggingOut) return;
    setLoggingOut(true);
    setLogoutError(null);
    try {
      await api.logout();
      signedOut('You are logged out.');
    } catch (e) {
      if (e instanceof ApiError && e.status === 0) {
        // The console is unreachable: the session may still be alive, so say so and stay.
        setLogoutError(errorMessage(e));
        setLoggingOut(false);
        return;
      }
      // 401: the session was gone already. Anything else: the in-memory token is dropped anyway.
      signedOut(e instanceof ApiError && e.status === 401 ? 'You are logged out.' : undefined);
    }
  }

  let lastSection: string | undefined;

  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/" className="brand">
          <img src={logoUrl} alt="" width={24} height={24} />
          <span className="brand-name">Outpost</span>
        </Link>
        <span className="topbar-version" title="Console version">
          Console{' '}
          <span className="version-tag" data-testid="console-version">
            {version ?? ''}
          </span>
        </span>
        <div className="topbar-spacer" />
        {session ? <span className="topbar-user">{session.username}</span> : null}
        <button type="button" className="btn btn-topbar" onClick={logout} disabled={loggingOut} data-testid="logout">
          {loggingOut ? 'Logging out…' : 'Log out'}
        </button>
      </header>
      <nav className="sidebar" aria-label="Main">
        <ul>
          {NAV.map((item) => {
            const heading = item.section && item.section !== lastSection ? item.section : null;
            lastSection = item.section;
            const active = isActive(item, pathname);
            return (
              <li key={item.to}>
                {heading ? <div className="nav-section">{heading}</div> : null}
                <Link
                  to={item.to}
                  className={`nav-link${active ? ' active' : ''}${item.section ? ' nested' : ''}`}
                  aria-current={active ? 'page' : undefined}
                  data-testid={item.testId}
                >
                  {item.label}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <main className="content">
        {logoutError ? (
          <Banner kind="error" title="Logging out failed.">
            {logoutError}
          </Banner>
        ) : null}
        <UpdateBanner status={updates.status} />
        <UpdatesFeedContext.Provider value={updates}>{children}</UpdatesFeedContext.Provider>
      </main>
    </div>
  );
}
