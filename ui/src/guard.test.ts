import { describe, expect, it } from 'vitest';
import { guardRedirect, normalizePath } from './guard';
import { safeReturnPath } from './router';

describe('guardRedirect', () => {
  it('sends visitors without a session to the login page', () => {
    expect(guardRedirect('/', 'anonymous')).toBe('/login');
    expect(guardRedirect('/audit', 'anonymous')).toBe('/login');
    expect(guardRedirect('/settings/tls', 'anonymous')).toBe('/login');
    expect(guardRedirect('/no/such/page', 'anonymous')).toBe('/login');
  });
  it('leaves the setup page reachable with or without a session', () => {
    expect(guardRedirect('/setup', 'anonymous')).toBeNull();
    expect(guardRedirect('/setup', 'authenticated')).toBeNull();
    expect(guardRedirect('/setup/', 'anonymous')).toBeNull();
  });
  it('shows login without a session, the dashboard with one', () => {
    expect(guardRedirect('/login', 'anonymous')).toBeNull();
    expect(guardRedirect('/login', 'authenticated')).toBe('/');
  });
  it('renders guarded pages with a session', () => {
    expect(guardRedirect('/', 'authenticated')).toBeNull();
    expect(guardRedirect('/audit', 'authenticated')).toBeNull();
  });
  it('waits while the session is being checked', () => {
    expect(guardRedirect('/audit', 'loading')).toBeNull();
  });
  it('normalizes trailing slashes', () => {
    expect(normalizePath('/audit/')).toBe('/audit');
    expect(normalizePath('/')).toBe('/');
  });
});

describe('safeReturnPath', () => {
  it('accepts local pages only', () => {
    expect(safeReturnPath('/audit')).toBe('/audit');
    expect(safeReturnPath('/settings/tls?x=1')).toBe('/settings/tls?x=1');
    expect(safeReturnPath('//evil.example/')).toBeNull();
    expect(safeReturnPath('/\\evil.example')).toBeNull();
    expect(safeReturnPath('https://evil.example/')).toBeNull();
    expect(safeReturnPath('/login')).toBeNull();
    expect(safeReturnPath(undefined)).toBeNull();
  });
});
