import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { apiError, APP_NOT_DEPLOYED, HEALTH, json, mockApi, SESSION, STATUS, TLS } from './test/mockApi';

const NO_LICENSE = json(200, { license: null });
const NO_NODES = json(200, { nodes: [] });
const NO_APP = json(200, APP_NOT_DEPLOYED);

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function type(testId: string, value: string) {
  fireEvent.change(screen.getByTestId(testId), { target: { value } });
}

describe('session guard', () => {
  it('sends a visitor without a session to the login page', async () => {
    go('/audit');
    mockApi({ 'GET /api/v1/session': apiError(401, 'unauthorized', 'Log in first.') });
    render(<App />);
    expect(await screen.findByTestId('login-password')).toBeTruthy();
    expect(window.location.pathname).toBe('/login');
    expect(screen.queryByTestId('audit-page')).toBeNull();
  });

  it('does not guard the setup page', async () => {
    go('/setup?token=tok');
    const m = mockApi({
      'GET /api/v1/session': apiError(401, 'unauthorized', 'Log in first.'),
      'GET /api/v1/setup': json(200, { admin_configured: false, token_valid: true }),
    });
    render(<App />);
    expect(await screen.findByTestId('setup-password')).toBeTruthy();
    expect(window.location.pathname).toBe('/setup');
    expect(m.callsTo('GET', '/api/v1/setup')[0].url).toBe('/api/v1/setup?token=tok');
  });

  it('goes back to login when a session route answers 401, and returns after login', async () => {
    go('/audit');
    let loggedIn = true;
    mockApi({
      'GET /api/v1/session': json(200, SESSION),
      'GET /api/v1/health': json(200, HEALTH),
      'GET /api/v1/audit': () =>
        loggedIn
          ? apiError(401, 'unauthorized', 'Log in first.')
          : json(200, { entries: [], next_before: null }),
      'POST /api/v1/login': () => {
        loggedIn = false;
        return json(200, SESSION);
      },
    });
    render(<App />);
    expect(await screen.findByTestId('login-password')).toBeTruthy();
    expect(window.location.pathname).toBe('/login');
    expect(screen.getByTestId('login-notice').textContent).toMatch(/session has ended/);

    type('login-password', 'correct horse battery');
    fireEvent.click(screen.getByTestId('login-submit'));
    expect(await screen.findByTestId('audit-page')).toBeTruthy();
    expect(window.location.pathname).toBe('/audit');
  });
});

describe('setup page', () => {
  function setupRoutes(extra = {}) {
    return mockApi({
      'GET /api/v1/session': apiError(401, 'unauthorized', 'Log in first.'),
      'GET /api/v1/setup': json(200, { admin_configured: false, token_valid: true }),
      ...extra,
    });
  }

  it('checks the password length and confirmation before sending', async () => {
    go('/setup?token=tok');
    const m = setupRoutes({ 'POST /api/v1/setup': json(200, { ok: true }) });
    render(<App />);
    await screen.findByTestId('setup-password');

    type('setup-password', 'too short');
    type('setup-confirm', 'too short');
    fireEvent.click(screen.getByTestId('setup-submit'));
    expect(screen.getByTestId('setup-error').textContent).toMatch(/at least 12 characters/);

    type('setup-password', 'long enough password');
    type('setup-confirm', 'long enough passwort');
    fireEvent.click(screen.getByTestId('setup-submit'));
    expect(screen.getByTestId('setup-error').textContent).toMatch(/do not match/);
    expect(m.callsTo('POST', '/api/v1/setup')).toHaveLength(0);

    type('setup-confirm', 'long enough password');
    fireEvent.click(screen.getByTestId('setup-submit'));
    expect(await screen.findByTestId('login-notice')).toBeTruthy();
    expect(window.location.pathname).toBe('/login');
    expect(screen.getByTestId('login-notice').textContent).toMatch(/password is set/);
    expect(m.callsTo('POST', '/api/v1/setup')[0].body).toEqual({ token: 'tok', password: 'long enough password' });
  });

  it('explains how to get a fresh link when the token is not valid', async () => {
    go('/setup?token=used');
    setupRoutes({ 'GET /api/v1/setup': json(200, { admin_configured: true, token_valid: false }) });
    render(<App />);
    const error = await screen.findByTestId('setup-error');
    expect(error.textContent).toMatch(/already been used or has expired/);
    expect(error.textContent).toMatch(/outpostctl reset-password/);
    expect(screen.queryByTestId('setup-password')).toBeNull();
  });

  it('shows the server message when the token is refused on submit', async () => {
    go('/setup?token=tok');
    setupRoutes({
      'POST /api/v1/setup': apiError(403, 'setup_token_invalid', 'The setup link is not valid any more.'),
    });
    render(<App />);
    await screen.findByTestId('setup-password');
    type('setup-password', 'long enough password');
    type('setup-confirm', 'long enough password');
    fireEvent.click(screen.getByTestId('setup-submit'));
    const error = await screen.findByTestId('setup-error');
    expect(error.textContent).toMatch(/not valid any more/);
    expect(error.textContent).toMatch(/outpostctl reset-password/);
  });

  it('shows the server message for a weak password', async () => {
    go('/setup?token=tok');
    setupRoutes({ 'POST /api/v1/setup': apiError(400, 'weak_password', 'Use at least 12 characters.') });
    render(<App />);
    await screen.findByTestId('setup-password');
    type('setup-password', 'long enough password');
    type('setup-confirm', 'long enough password');
    fireEvent.click(screen.getByTestId('setup-submit'));
    await waitFor(() => expect(screen.getByTestId('setup-error').textContent).toBe('Use at least 12 characters.'));
    expect(screen.getByTestId('setup-password')).toBeTruthy();
  });

  it('explains a link without token', async () => {
    go('/setup');
    setupRoutes();
    render(<App />);
    expect((await screen.findByTestId('setup-error')).textContent).toMatch(/no setup token/);
  });
});

describe('login page', () => {
  function loginRoutes(login: ReturnType<typeof apiError>) {
    return mockApi({
      'GET /api/v1/session': apiError(401, 'unauthorized', 'Log in first.'),
      'POST /api/v1/login': login,
    });
  }

  async function submit(password: string) {
    go('/login');
    render(<App />);
    await screen.findByTestId('login-password');
    type('login-password', password);
    fireEvent.click(screen.getByTestId('login-submit'));
    return screen.findByTestId('login-error');
  }

  it('shows the 401 message from the server', async () => {
    loginRoutes(apiError(401, 'invalid_credentials', 'The password is not correct.'));
    const error = await submit('wrong');
    expect(error.textContent).toBe('The password is not correct.');
    expect(window.location.pathname).toBe('/login');
  });

  it('shows the rate limit message and the Retry-After seconds', async () => {
    loginRoutes(
      apiError(429, 'rate_limited', 'Too many failed logins. Wait a minute.', { 'Retry-After': '37' }),
    );
    const error = await submit('wrong');
    expect(error.textContent).toMatch(/Too many failed logins/);
    expect(screen.getByTestId('login-retry-after').textContent).toBe('37');
    expect(error.textContent).toMatch(/Try again in 37 seconds/);
  });

  it('explains the setup link on 409 setup_required', async () => {
    loginRoutes(apiError(409, 'setup_required', 'The console is not set up yet.'));
    const error = await submit('whatever');
    expect(error.textContent).toMatch(/not set up yet/);
    expect(error.textContent).toMatch(/Setup link/);
    expect(error.textContent).toMatch(/outpostctl reset-password/);
  });

  it('logs in, keeps the CSRF token for later requests, and logs out', async () => {
    const m = mockApi({
      'GET /api/v1/session': apiError(401, 'unauthorized', 'Log in first.'),
      'POST /api/v1/login': json(200, SESSION),
      'GET /api/v1/health': json(200, HEALTH),
      'GET /api/v1/status': json(200, STATUS),
      'GET /api/v1/nodes': NO_NODES,
      'GET /api/v1/license': NO_LICENSE,
      'GET /api/v1/app/status': NO_APP,
      'POST /api/v1/logout': json(200, { ok: true }),
    });
    go('/login');
    render(<App />);
    await screen.findByTestId('login-password');
    type('login-password', 'correct horse battery');
    fireEvent.click(screen.getByTestId('login-submit'));
    expect(await screen.findByTestId('dashboard')).toBeTruthy();
    expect(window.location.pathname).toBe('/');
    expect(m.callsTo('POST', '/api/v1/login')[0].body).toEqual({ password: 'correct horse battery' });

    fireEvent.click(screen.getByTestId('logout'));
    expect(await screen.findByTestId('login-password')).toBeTruthy();
    expect(window.location.pathname).toBe('/login');
    expect(m.callsTo('POST', '/api/v1/logout')[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
  });
});

describe('dashboard', () => {
  it('shows status and certificate data from the API and refreshes it', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      go('/');
      let uptime = STATUS.uptime_seconds;
      const m = mockApi({
        'GET /api/v1/session': json(200, SESSION),
        'GET /api/v1/health': json(200, HEALTH),
        'GET /api/v1/status': () => json(200, { ...STATUS, uptime_seconds: uptime }),
        'GET /api/v1/nodes': NO_NODES,
        'GET /api/v1/license': NO_LICENSE,
        'GET /api/v1/app/status': NO_APP,
      });
      render(<App />);
      expect(await screen.findByTestId('dashboard')).toBeTruthy();
      await waitFor(() => expect(screen.getByTestId('uptime').textContent).toBe('3d 4h 5m'));
      expect(screen.getByTestId('tls-fingerprint').textContent).toBe(TLS.fingerprint_sha256);
      expect(screen.getByTestId('tls-subject').textContent).toBe(TLS.subject);
      expect(screen.getByTestId('tls-expiry').textContent).toBe('2035-01-01 00:00:00 UTC');
      expect(screen.getByText('Self-signed')).toBeTruthy();
      expect(screen.getByText('127.0.0.1')).toBeTruthy();
      await waitFor(() => expect(screen.getByTestId('console-version').textContent).toBe('0.1.0'));

      uptime += 3600;
      const before = m.callsTo('GET', '/api/v1/status').length;
      await act(async () => {
        await vi.advanceTimersByTimeAsync(10_000);
      });
      await waitFor(() => expect(screen.getByTestId('uptime').textContent).toBe('3d 5h 5m'));
      expect(m.callsTo('GET', '/api/v1/status').length).toBeGreaterThan(before);
    } finally {
      vi.useRealTimers();
    }
  });

  it('warns when the certificate expires within 30 days', async () => {
    go('/');
    const soon = new Date(Date.now() + 10 * 86400 * 1000).toISOString();
    mockApi({
      'GET /api/v1/session': json(200, SESSION),
      'GET /api/v1/health': json(200, HEALTH),
      'GET /api/v1/status': json(200, { ...STATUS, tls: { ...TLS, not_after: soon } }),
      'GET /api/v1/nodes': NO_NODES,
      'GET /api/v1/license': NO_LICENSE,
      'GET /api/v1/app/status': NO_APP,
    });
    render(<App />);
    expect(await screen.findByText('The certificate expires soon.')).toBeTruthy();
    expect(screen.getByText(/days left/).textContent).toMatch(/^(9|10) days left$/);
  });
});

describe('audit page', () => {
  it('lists entries and loads more with next_before', async () => {
    go('/audit');
    const entry = (id: number, action: string) => ({
      id,
      at: '2025-06-01T08:00:00Z',
      actor: 'admin',
      action,
      source: '127.0.0.1',
      detail: `entry ${id}`,
    });
    const m = mockApi({
      'GET /api/v1/session': json(200, SESSION),
      'GET /api/v1/health': json(200, HEALTH),
      'GET /api/v1/audit': (call) =>
        call.url.includes('before=2')
          ? json(200, { entries: [entry(1, 'setup.completed')], next_before: null })
          : json(200, { entries: [entry(3, 'login.succeeded'), entry(2, 'login.failed')], next_before: 2 }),
    });
    render(<App />);
    await screen.findByTestId('audit-page');
    await waitFor(() => expect(screen.getAllByTestId('audit-row')).toHaveLength(2));
    expect(screen.getAllByTestId('audit-row')[0].textContent).toContain('login.succeeded');
    expect(screen.getAllByTestId('audit-row')[0].textContent).toContain('2025-06-01 08:00:00 UTC');

    fireEvent.click(screen.getByText('Load more'));
    await waitFor(() => expect(screen.getAllByTestId('audit-row')).toHaveLength(3));
    expect(screen.queryByText('Load more')).toBeNull();
    expect(m.callsTo('GET', '/api/v1/audit').map((c) => c.url)).toEqual([
      '/api/v1/audit?limit=50',
      '/api/v1/audit?limit=50&before=2',
    ]);
  });
});

describe('TLS settings page', () => {
  const NEW_TLS = {
    ...TLS,
    subject: 'CN=console.customer.example',
    self_signed: false,
    fingerprint_sha256: '11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF',
  };

  function routes(put: ReturnType<typeof json>) {
    return mockApi({
      'GET /api/v1/session': json(200, SESSION),
      'GET /api/v1/health': json(200, HEALTH),
      'GET /api/v1/tls': json(200, TLS),
      'PUT /api/v1/tls': put,
    });
  }

  it('shows the server 400 message when the pair is refused', async () => {
    go('/settings/tls');
    const m = routes(apiError(400, 'invalid_certificate', 'The private key does not match the certificate.'));
    render(<App />);
    await screen.findByTestId('tls-page');
    await waitFor(() => expect(screen.getByTestId('tls-fingerprint').textContent).toBe(TLS.fingerprint_sha256));

    type('tls-cert-text', '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n');
    type('tls-key-text', '-----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----\n');
    fireEvent.click(screen.getByTestId('tls-upload'));
    const error = await screen.findByTestId('tls-upload-error');
    expect(error.textContent).toMatch(/The private key does not match the certificate\./);
    expect(screen.getByTestId('tls-fingerprint').textContent).toBe(TLS.fingerprint_sha256);
    const put = m.callsTo('PUT', '/api/v1/tls')[0];
    expect(put.headers['x-csrf-token']).toBe(SESSION.csrf_token);
  });

  it('reads chosen files, uploads them and shows the new certificate', async () => {
    go('/settings/tls');
    const m = routes(json(200, NEW_TLS));
    render(<App />);
    await screen.findByTestId('tls-page');
    const cert = new File(['-----BEGIN CERTIFICATE-----\nCCC\n-----END CERTIFICATE-----\n'], 'cert.pem');
    const key = new File(['-----BEGIN PRIVATE KEY-----\nDDD\n-----END PRIVATE KEY-----\n'], 'key.pem');
    fireEvent.change(screen.getByTestId('tls-cert-file'), { target: { files: [cert] } });
    fireEvent.change(screen.getByTestId('tls-key-file'), { target: { files: [key] } });
    // Submit at once: the page waits for the file reads.
    fireEvent.click(screen.getByTestId('tls-upload'));

    const success = await screen.findByTestId('tls-upload-success');
    expect(success.textContent).toContain('CN=console.customer.example');
    expect(screen.getByTestId('tls-fingerprint').textContent).toBe(NEW_TLS.fingerprint_sha256);
    expect(m.callsTo('PUT', '/api/v1/tls')[0].body).toEqual({
      certificate_pem: '-----BEGIN CERTIFICATE-----\nCCC\n-----END CERTIFICATE-----\n',
      private_key_pem: '-----BEGIN PRIVATE KEY-----\nDDD\n-----END PRIVATE KEY-----\n',
    });
    expect((screen.getByTestId('tls-key-text') as HTMLTextAreaElement).value).toBe('');
  });

  it('asks for both parts before sending', async () => {
    go('/settings/tls');
    const m = routes(json(200, NEW_TLS));
    render(<App />);
    await screen.findByTestId('tls-page');
    type('tls-cert-text', '-----BEGIN CERTIFICATE-----');
    fireEvent.click(screen.getByTestId('tls-upload'));
    expect((await screen.findByTestId('tls-upload-error')).textContent).toMatch(/private key/);
    expect(m.callsTo('PUT', '/api/v1/tls')).toHaveLength(0);
  });
});

describe('layout', () => {
  it('has the navigation hooks and navigates without reloading', async () => {
    go('/');
    mockApi({
      'GET /api/v1/session': json(200, SESSION),
      'GET /api/v1/health': json(200, HEALTH),
      'GET /api/v1/status': json(200, STATUS),
      'GET /api/v1/nodes': NO_NODES,
      'GET /api/v1/license': NO_LICENSE,
      'GET /api/v1/app/status': NO_APP,
      'GET /api/v1/tls': json(200, TLS),
      'GET /api/v1/audit': json(200, { entries: [], next_before: null }),
    });
    render(<App />);
    await screen.findByTestId('dashboard');
    fireEvent.click(screen.getByTestId('nav-tls'));
    expect(await screen.findByTestId('tls-page')).toBeTruthy();
    expect(window.location.pathname).toBe('/settings/tls');
    fireEvent.click(screen.getByTestId('nav-audit'));
    expect(await screen.findByTestId('audit-page')).toBeTruthy();
    expect(await screen.findByText('No audit entries yet.')).toBeTruthy();
    fireEvent.click(screen.getByTestId('nav-dashboard'));
    expect(await screen.findByTestId('dashboard')).toBeTruthy();
    expect(screen.getByTestId('nav-dashboard').getAttribute('aria-current')).toBe('page');
  });
});
