import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import {
  APP_NOT_DEPLOYED,
  apiError,
  HEALTH,
  INSPECT_CLAIMS,
  json,
  LICENSE,
  mockApi,
  OTHER_FINGERPRINT,
  SESSION,
  STATUS,
  VENDOR_FINGERPRINT,
  type Route,
} from './test/mockApi';

const LICENSE_TEXT = '{"payloadType":"application/vnd.outpost.license.v1+json","payload":"eyJ...","signatures":[]}';

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route>) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/status': json(200, STATUS),
    'GET /api/v1/nodes': json(200, { nodes: [] }),
    'GET /api/v1/app/status': json(200, APP_NOT_DEPLOYED),
    ...extra,
  });
}

function inspect(keyPinned: boolean, matchesPinned: boolean, fingerprint = VENDOR_FINGERPRINT) {
  return json(200, { fingerprint, key_pinned: keyPinned, matches_pinned: matchesPinned, claims: INSPECT_CLAIMS });
}

async function openLicensePage() {
  go('/license');
  render(<App />);
  await screen.findByTestId('license-page');
}

function pasteAndLoad(text = LICENSE_TEXT) {
  fireEvent.change(screen.getByTestId('license-text'), { target: { value: text } });
  fireEvent.click(screen.getByTestId('license-load'));
}

describe('license page: first load', () => {
  it('asks to trust the vendor key and sends trust_key = fingerprint on confirm', async () => {
    const m = routes({
      'GET /api/v1/license': json(200, { license: null }),
      'POST /api/v1/license/inspect': inspect(false, false),
      'POST /api/v1/license': json(200, LICENSE),
    });
    await openLicensePage();
    await screen.findByTestId('license-empty');
    expect(screen.getByTestId('license-empty').textContent).toMatch(/No license loaded/);

    pasteAndLoad();
    const dialog = await screen.findByTestId('trust-dialog');
    expect(dialog.getAttribute('role')).toBe('dialog');
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(dialog.textContent).toMatch(/first license/);
    expect(dialog.textContent).toMatch(/Compare the fingerprint/);

    const fp = within(dialog).getByTestId('trust-fingerprint');
    expect(fp.getAttribute('data-value')).toBe(VENDOR_FINGERPRINT);
    expect(fp.textContent).toBe(
      '3f9a 0c12 d4e5 b6a7 9801 1223 3445 5667 7889 9aab bccd deef f001 1223 3445 566a',
    );
    expect(fp.textContent?.replace(/\s/g, '')).toBe(VENDOR_FINGERPRINT);
    expect(within(dialog).getByTestId('trust-customer').textContent).toBe('Acme Industries');
    expect(within(dialog).getByTestId('trust-app-id').textContent).toContain('acme-app');
    expect(within(dialog).getByTestId('trust-expiry').textContent).toBe('2035-01-01 00:00:00 UTC');
    expect(within(dialog).getByTestId('trust-confirm').textContent).toBe('Trust this key and load');

    // Nothing is loaded before the admin confirms.
    expect(m.callsTo('POST', '/api/v1/license/inspect')[0].body).toEqual({ license: LICENSE_TEXT });
    expect(m.callsTo('POST', '/api/v1/license')).toHaveLength(0);

    fireEvent.click(within(dialog).getByTestId('trust-confirm'));
    const details = await screen.findByTestId('license-details');
    expect(within(details).getByTestId('license-customer').textContent).toBe('Acme Industries');
    expect(screen.queryByTestId('trust-dialog')).toBeNull();
    expect(screen.getByTestId('license-success').textContent).toMatch(/vendor key is now trusted/);

    const loads = m.callsTo('POST', '/api/v1/license');
    expect(loads).toHaveLength(1);
    expect(loads[0].body).toEqual({ license: LICENSE_TEXT, trust_key: VENDOR_FINGERPRINT });
    expect(loads[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect(m.callsTo('POST', '/api/v1/license/inspect')[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    // The form with the license text is gone.
    expect(screen.queryByTestId('license-text')).toBeNull();
  });

  it('sends nothing when the admin cancels the dialog', async () => {
    const m = routes({
      'GET /api/v1/license': json(200, { license: null }),
      'POST /api/v1/license/inspect': inspect(false, false),
      'POST /api/v1/license': json(200, LICENSE),
    });
    await openLicensePage();
    await screen.findByTestId('license-empty');
    pasteAndLoad();
    fireEvent.click(within(await screen.findByTestId('trust-dialog')).getByTestId('trust-cancel'));

    await waitFor(() => expect(screen.queryByTestId('trust-dialog')).toBeNull());
    expect(screen.getByTestId('license-notice').textContent).toMatch(/Nothing was loaded/);
    expect(m.callsTo('POST', '/api/v1/license')).toHaveLength(0);
    expect(screen.queryByTestId('license-details')).toBeNull();
    // The text stays, so the admin can try again.
    expect((screen.getByTestId('license-text') as HTMLTextAreaElement).value).toBe(LICENSE_TEXT);
    expect((screen.getByTestId('license-load') as HTMLButtonElement).disabled).toBe(false);
  });

  it('closes the dialog with Escape without loading', async () => {
    const m = routes({
      'GET /api/v1/license': json(200, { license: null }),
      'POST /api/v1/license/inspect': inspect(false, false),
    });
    await openLicensePage();
    await screen.findByTestId('license-empty');
    pasteAndLoad();
    const dialog = await screen.findByTestId('trust-dialog');
    expect(document.activeElement).toBe(within(dialog).getByTestId('trust-cancel'));
    fireEvent.keyDown(dialog, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('trust-dialog')).toBeNull());
    expect(m.callsTo('POST', '/api/v1/license')).toHaveLength(0);
  });

  it('reads a chosen file and inspects it even when Load is clicked at once', async () => {
    const m = routes({
      'GET /api/v1/license': json(200, { license: null }),
      'POST /api/v1/license/inspect': inspect(false, false),
    });
    await openLicensePage();
    await screen.findByTestId('license-empty');
    const file = new File([LICENSE_TEXT], 'acme.license');
    fireEvent.change(screen.getByTestId('license-file'), { target: { files: [file] } });
    fireEvent.click(screen.getByTestId('license-load'));
    await screen.findByTestId('trust-dialog');
    expect(m.callsTo('POST', '/api/v1/license/inspect')[0].body).toEqual({ license: LICENSE_TEXT });
  });

  it('asks for a file before sending anything', async () => {
    const m = routes({ 'GET /api/v1/license': json(200, { license: null }) });
    await openLicensePage();
    await screen.findByTestId('license-empty');
    fireEvent.click(screen.getByTestId('license-load'));
    expect((await screen.findByTestId('license-error')).textContent).toMatch(/Choose or paste the license file/);
    expect(m.callsTo('POST', '/api/v1/license/inspect')).toHaveLength(0);
  });

  it('shows the server message when the confirmed load is refused', async () => {
    routes({
      'GET /api/v1/license': json(200, { license: null }),
      'POST /api/v1/license/inspect': inspect(false, false),
      'POST /api/v1/license': apiError(400, 'trust_key_mismatch', 'The confirmed key is not the key of this license.'),
    });
    await openLicensePage();
    await screen.findByTestId('license-empty');
    pasteAndLoad();
    fireEvent.click(within(await screen.findByTestId('trust-dialog')).getByTestId('trust-confirm'));
    const error = await screen.findByTestId('license-error');
    expect(error.textContent).toContain('The confirmed key is not the key of this license.');
    expect(screen.queryByTestId('trust-dialog')).toBeNull();
    expect(screen.queryByTestId('license-details')).toBeNull();
  });
});

describe('license page: replacing a license', () => {
  const RENEWED = {
    ...LICENSE,
    license_id: 'lic-2026-0001',
    customer: 'Acme Industries GmbH',
    expires_at: '2036-01-01T00:00:00Z',
  };

  async function openReplaceForm() {
    await openLicensePage();
    await screen.findByTestId('license-details');
    expect(screen.queryByTestId('license-text')).toBeNull();
    fireEvent.click(screen.getByTestId('license-replace'));
    await screen.findByTestId('license-text');
  }

  it('loads directly with trust_key null when the file matches the pinned key', async () => {
    const m = routes({
      'GET /api/v1/license': json(200, { license: LICENSE }),
      'POST /api/v1/license/inspect': inspect(true, true),
      'POST /api/v1/license': json(200, RENEWED),
    });
    await openReplaceForm();
    pasteAndLoad();
    await waitFor(() => expect(screen.getByTestId('license-customer').textContent).toBe('Acme Industries GmbH'));
    expect(screen.queryByTestId('trust-dialog')).toBeNull();
    expect(m.callsTo('POST', '/api/v1/license')[0].body).toEqual({ license: LICENSE_TEXT, trust_key: null });
    expect(screen.getByTestId('license-success').textContent).not.toMatch(/now trusted/);
    expect(screen.queryByTestId('license-text')).toBeNull();
    expect(screen.getByTestId('license-replace')).toBeTruthy();
  });

  it('refuses a file signed by another key without sending it, showing both fingerprints', async () => {
    const m = routes({
      'GET /api/v1/license': json(200, { license: LICENSE }),
      'POST /api/v1/license/inspect': inspect(true, false, OTHER_FINGERPRINT),
      'POST /api/v1/license': json(200, RENEWED),
    });
    await openReplaceForm();
    pasteAndLoad();
    const error = await screen.findByTestId('license-error');
    expect(error.textContent).toMatch(/signed by a different vendor key/);
    expect(within(error).getByTestId('license-error-file-fingerprint').getAttribute('data-value')).toBe(
      OTHER_FINGERPRINT,
    );
    expect(within(error).getByTestId('license-error-pinned-fingerprint').getAttribute('data-value')).toBe(
      VENDOR_FINGERPRINT,
    );
    expect(screen.queryByTestId('trust-dialog')).toBeNull();
    expect(m.callsTo('POST', '/api/v1/license')).toHaveLength(0);
    expect(screen.getByTestId('license-customer').textContent).toBe('Acme Industries');
  });

  it('hides the form again on Cancel', async () => {
    routes({ 'GET /api/v1/license': json(200, { license: LICENSE }) });
    await openReplaceForm();
    fireEvent.click(screen.getByTestId('license-replace-cancel'));
    await waitFor(() => expect(screen.queryByTestId('license-text')).toBeNull());
  });

  it.each([
    [403, 'license_wrong_key', 'The license is signed by a key other than the trusted vendor key.'],
    [400, 'license_expired', 'The license expired on 2024-12-31.'],
    [409, 'license_other_app', 'A license for app other-app is already loaded.'],
    [409, 'key_confirmation_required', 'Confirm the vendor key before loading the first license.'],
    [400, 'license_invalid', 'The license signature is not valid.'],
  ])('shows the server message for %i %s', async (status, code, message) => {
    routes({
      'GET /api/v1/license': json(200, { license: LICENSE }),
      'POST /api/v1/license/inspect': inspect(true, true),
      'POST /api/v1/license': apiError(status, code, message),
    });
    await openReplaceForm();
    pasteAndLoad();
    const error = await screen.findByTestId('license-error');
    expect(within(error).getByTestId('license-error-message').textContent).toBe(message);
    expect(error.getAttribute('role')).toBe('alert');
    // Nothing changed: the old license is still shown, the form stays with its text.
    expect(screen.getByTestId('license-customer').textContent).toBe('Acme Industries');
    expect((screen.getByTestId('license-text') as HTMLTextAreaElement).value).toBe(LICENSE_TEXT);
  });

  it('shows the server message when inspect refuses the file', async () => {
    const m = routes({
      'GET /api/v1/license': json(200, { license: null }),
      'POST /api/v1/license/inspect': apiError(400, 'license_invalid', 'This file is not a license (not a DSSE envelope).'),
    });
    await openLicensePage();
    await screen.findByTestId('license-empty');
    pasteAndLoad('hello');
    const error = await screen.findByTestId('license-error');
    expect(error.textContent).toContain('This file is not a license (not a DSSE envelope).');
    expect(screen.queryByTestId('trust-dialog')).toBeNull();
    expect(m.callsTo('POST', '/api/v1/license')).toHaveLength(0);
  });
});

describe('license details', () => {
  it('renders every field and never a password, even if the API sent one', async () => {
    routes({
      'GET /api/v1/license': json(200, {
        license: {
          ...LICENSE,
          registry_password: 'hunter2-S3cret',
          registry: { username: 'acme-pull', password: 'hunter2-S3cret' },
          password: 'hunter2-S3cret',
        },
      }),
    });
    await openLicensePage();
    const details = await screen.findByTestId('license-details');
    expect(within(details).getByTestId('license-customer').textContent).toBe('Acme Industries');
    expect(within(details).getByTestId('license-app-id').textContent).toBe('acme-app');
    expect(within(details).getByTestId('license-channel').textContent).toBe('stable');
    expect(within(details).getByTestId('license-id').textContent).toBe('lic-2025-0042');
    expect(within(details).getByTestId('license-issued').textContent).toBe('2025-01-01 00:00:00 UTC');
    expect(within(details).getByTestId('license-expiry').textContent).toBe('2035-01-01 00:00:00 UTC');
    expect(within(details).getByTestId('license-expiry').getAttribute('data-value')).toBe('2035-01-01T00:00:00Z');
    expect(within(details).getByTestId('license-days-left').textContent).toMatch(/^\d+ days left$/);
    expect(within(details).getByTestId('license-airgap').textContent).toBe('Yes');
    expect(within(details).getByTestId('license-max-nodes').textContent).toBe('3');
    expect(within(details).getByTestId('license-api-host').textContent).toBe('https://license.vendor.example');
    expect(within(details).getByTestId('license-registry-user').textContent).toBe('acme-pull');
    expect(within(details).getByTestId('license-fingerprint').getAttribute('data-value')).toBe(VENDOR_FINGERPRINT);
    expect(within(details).getByTestId('license-loaded-at').textContent).toBe('2025-06-01 08:00:00 UTC');
    expect(screen.queryByTestId('license-expiry-warning')).toBeNull();
    expect(screen.queryByTestId('license-expiry-error')).toBeNull();

    expect(document.body.innerHTML).not.toContain('hunter2');
    expect(document.body.textContent ?? '').not.toMatch(/password/i);
    expect(document.querySelector('input[type="password"]')).toBeNull();
  });

  it('shows the entitlements as a sorted key/value table', async () => {
    routes({
      'GET /api/v1/license': json(200, {
        license: { ...LICENSE, entitlements: { seats: '25', feature_reports: 'enabled', 'max.projects': '10' } },
      }),
    });
    await openLicensePage();
    const table = await screen.findByTestId('license-entitlements');
    expect(table.tagName).toBe('TABLE');
    const rows = within(table).getAllByTestId('license-entitlement');
    expect(rows.map((r) => r.getAttribute('data-key'))).toEqual(['feature_reports', 'max.projects', 'seats']);
    expect(rows.map((r) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent))).toEqual([
      ['feature_reports', 'enabled'],
      ['max.projects', '10'],
      ['seats', '25'],
    ]);
  });

  it('says None without entitlements, Unlimited without max_nodes, and hides an absent registry user', async () => {
    routes({
      'GET /api/v1/license': json(200, {
        license: { ...LICENSE, entitlements: {}, max_nodes: null, airgap: false, api_host: null, registry_username: null },
      }),
    });
    await openLicensePage();
    const details = await screen.findByTestId('license-details');
    expect(within(details).getByTestId('license-entitlements').textContent).toBe('None');
    expect(within(details).getByTestId('license-max-nodes').textContent).toBe('Unlimited');
    expect(within(details).getByTestId('license-airgap').textContent).toBe('No');
    expect(within(details).getByTestId('license-api-host').textContent).toBe('None');
    expect(within(details).queryByTestId('license-registry-user')).toBeNull();
  });

  it('warns under 30 days and marks an expired license as an error', async () => {
    const soon = new Date(Date.now() + 10 * 86400 * 1000).toISOString();
    routes({ 'GET /api/v1/license': json(200, { license: { ...LICENSE, expires_at: soon } }) });
    await openLicensePage();
    expect((await screen.findByTestId('license-expiry-warning')).textContent).toMatch(/expires soon/);
    expect(screen.getByTestId('license-days-left').textContent).toMatch(/^(9|10) days left$/);
    expect(screen.getByTestId('license-days-left').className).toContain('badge-warn');
  });

  it('marks an expired license as an error', async () => {
    routes({
      'GET /api/v1/license': json(200, { license: { ...LICENSE, expires_at: '2024-01-01T00:00:00Z' } }),
    });
    await openLicensePage();
    const banner = await screen.findByTestId('license-expiry-error');
    expect(banner.className).toContain('banner-error');
    expect(screen.getByTestId('license-days-left').textContent).toMatch(/^expired \d+ days ago$/);
    expect(screen.getByTestId('license-days-left').className).toContain('badge-bad');
  });
});

describe('navigation and dashboard', () => {
  it('has the License entry right after Dashboard', async () => {
    routes({ 'GET /api/v1/license': json(200, { license: null }) });
    go('/');
    render(<App />);
    await screen.findByTestId('dashboard');
    const links = Array.from(document.querySelectorAll('nav [data-testid^="nav-"]')).map((a) =>
      a.getAttribute('data-testid'),
    );
    expect(links.slice(0, 2)).toEqual(['nav-dashboard', 'nav-license']);
    expect(screen.getByTestId('nav-license').textContent).toBe('License');
    fireEvent.click(screen.getByTestId('nav-license'));
    expect(await screen.findByTestId('license-page')).toBeTruthy();
    expect(window.location.pathname).toBe('/license');
    expect(screen.getByTestId('nav-license').getAttribute('aria-current')).toBe('page');
  });

  it('points to the License page when no license is loaded', async () => {
    routes({ 'GET /api/v1/license': json(200, { license: null }) });
    go('/');
    render(<App />);
    const link = await screen.findByTestId('dashboard-license-load');
    expect(screen.getByTestId('dashboard-license-none').textContent).toMatch(/No license loaded/);
    expect(link.getAttribute('href')).toBe('/license');
    // The existing dashboard hooks are still there.
    expect(screen.getByTestId('uptime')).toBeTruthy();
    expect(screen.getByTestId('tls-fingerprint')).toBeTruthy();
    fireEvent.click(link);
    expect(await screen.findByTestId('license-empty')).toBeTruthy();
  });

  it('shows the customer and expiry of the loaded license', async () => {
    routes({ 'GET /api/v1/license': json(200, { license: LICENSE }) });
    go('/');
    render(<App />);
    expect((await screen.findByTestId('dashboard-license-customer')).textContent).toBe('Acme Industries');
    const expiry = screen.getByTestId('dashboard-license-expiry');
    expect(expiry.textContent).toBe('2035-01-01');
    expect(expiry.getAttribute('data-value')).toBe('2035-01-01T00:00:00Z');
    expect(screen.queryByTestId('dashboard-license-load')).toBeNull();
  });
});
