// Route access rules, kept pure so they are easy to test.

export type AuthState = 'loading' | 'authenticated' | 'anonymous';

export const PUBLIC_PATHS = ['/setup', '/login'] as const;

export function normalizePath(pathname: string): string {
  if (pathname.length > 1 && pathname.endsWith('/')) return pathname.replace(/\/+$/, '') || '/';
  return pathname;
}

/**
 * Where the app must go instead of `pathname`, or `null` to render it.
 * - `/setup` is always reachable (the first-run link works with or without a session);
 * - `/login` with a live session goes to the dashboard;
 * - every other page needs a session, else `/login`.
 */
export function guardRedirect(pathname: string, auth: AuthState): string | null {
  const path = normalizePath(pathname);
  if (auth === 'loading') return null;
  if (path === '/setup') return null;
  if (path === '/login') return auth === 'authenticated' ? '/' : null;
  return auth === 'authenticated' ? null : '/login';
}
