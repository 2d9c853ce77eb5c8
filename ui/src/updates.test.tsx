import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { toUpdatesStatus } from './api';
import { APP_NOT_DEPLOYED, apiError, HEALTH, json, mockApi, SESSION, STATUS, type Reply, type Route } from './test/mockApi';
import {
  ADVISORY_HIGH,
  ADVISORY_LOW_UNFIXED,
  CHECK_FAILED_STATUS,
  LICENSE_REVOKED,
  UP_TO_DATE,
  updatesStatus,
} from './test/online';
import { advisorySummary, fixesOf, licenseAlert, UPDATES_REFRESH_MS } from './updates';

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/updates': json(200, updatesStatus()),
    ...extra,
  });
}

async function openUpdates() {
  go('/updates');
  render(<App />);
  return screen.findByTestId('updates-state');
}

/** A reply the test releases when it wants (to see the page while a request runs). */
function deferred() {
  let release: (reply: Reply) => void = () => undefined;
  const promise = new Promise<Reply>((resolve) => {
    release = resolve;
  });
  return { route: () => promise, release };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('updates page', () => {
  it('shows an available update, the advisory, and marks the release that fixes it', async () => {
    routes();
    const state = await openUpdates();
    expect(document.title).toBe('Updates · Outpost');
    expect(screen.getByTestId('nav-updates').getAttribute('aria-current')).toBe('page');

    expect(state.getAttribute('data-state')).toBe('update_available');
    expect(state.className).toContain('updates-state-info');
    expect(state.textContent).toContain('Update available');
    expect(state.textContent).toContain('Release 1.2.0 is available');
    expect(screen.getByTestId('updates-installed-release').textContent).toBe('1.0.0 (sequence 1)');

    // The fixed-in release is marked; the other one is not, but carries its "required" badge.
    const fix = screen.getByTestId('release-2');
    expect(fix.className).toContain('row-fix');
    expect(within(fix).getByTestId('release-fixes').textContent).toBe('fixes OSA-2026-0001');
    expect(within(fix).queryByTestId('release-required')).toBeNull();
    expect(fix.textContent).toContain('Security fixes.');
    expect(fix.textContent).toContain('2026-03-01 08:00:00 UTC');
    const newest = screen.getByTestId('release-3');
    expect(newest.className).not.toContain('row-fix');
    expect(within(newest).queryByTestId('release-fixes')).toBeNull();
    expect(within(newest).getByTestId('release-required').textContent).toBe('required');
    expect(screen.getByTestId('updates-deploy-link').getAttribute('href')).toBe('/deploy');

    const advisory = screen.getByTestId('advisory-OSA-2026-0001');
    expect(within(advisory).getByTestId('advisory-severity').textContent).toBe('high');
    expect(within(advisory).getByTestId('advisory-severity').className).toContain('badge-bad');
    expect(advisory.textContent).toContain('Session fixation in the login form');
    expect(advisory.textContent).toContain('A crafted link can fix the session id');
    expect(within(advisory).getByTestId('advisory-affected').textContent).toBe('sequence 1');
    expect(within(advisory).getByTestId('advisory-fix').textContent).toContain('fixed in 1.1.0 (sequence 2)');
    expect(within(advisory).getByTestId('advisory-fix-loaded')).toBeTruthy();
    // "Deploy it" leads to the fixing release on the Deploy page.
    expect(within(advisory).getByTestId('advisory-deploy-fix').getAttribute('href')).toBe('/deploy?release=2');

    expect(screen.getByTestId('updates-schedule-setting').textContent).toContain('every 1h');
    expect(screen.getByTestId('updates-next-check').textContent).toContain('2026-04-01 13:20:34 UTC');
    expect(screen.getByTestId('updates-index').textContent).toContain('version 3');
    expect(screen.queryByTestId('updates-index-expired')).toBeNull();
    expect(screen.getByTestId('updates-license').textContent).toContain('https://api.vendor.example');
    const checks = screen.getAllByTestId('check-row');
    expect(checks).toHaveLength(1);
    expect(checks[0].textContent).toContain('schedule');
    expect(checks[0].textContent).toContain('2 new releases loaded');

    // The shell's banner names the advisory and where to go.
    const banner = await screen.findByTestId('update-banner');
    expect(banner.textContent).toContain(
      '1 security advisory affects the installed release: OSA-2026-0001 (high) Session fixation in the login form — fixed in 1.1.0',
    );
    expect(within(banner).getByTestId('update-banner-advisories').className).toContain('banner-error');
    expect(within(banner).getByTestId('update-banner-link').getAttribute('href')).toBe('/updates');
  });

  it('says when a fix is not loaded or does not exist yet', async () => {
    routes({
      'GET /api/v1/updates': json(
        200,
        updatesStatus({
          available: [],
          advisories: [{ ...ADVISORY_HIGH, fix_available: false }, ADVISORY_LOW_UNFIXED],
        }),
      ),
    });
    await openUpdates();
    const high = screen.getByTestId('advisory-OSA-2026-0001');
    expect(within(high).getByTestId('advisory-fix-missing').textContent).toBe('fix not loaded yet');
    expect(within(high).queryByTestId('advisory-fix-loaded')).toBeNull();
    const low = screen.getByTestId('advisory-OSA-2026-0002');
    expect(within(low).getByTestId('advisory-fix').textContent).toBe('no fix yet');
    expect(within(low).getByTestId('advisory-severity').className).toContain('badge-neutral');
    expect(screen.getByTestId('available-none')).toBeTruthy();
    expect((await screen.findByTestId('update-banner')).textContent).toContain(
      '2 security advisories affect the installed release',
    );
    expect(screen.getByTestId('update-banner').textContent).toContain('OSA-2026-0002 (low) Verbose error page — no fix yet');
  });

  it('shows a failed check with its error and the next retry', async () => {
    routes({ 'GET /api/v1/updates': json(200, CHECK_FAILED_STATUS) });
    const state = await openUpdates();
    expect(state.getAttribute('data-state')).toBe('check_failed');
    expect(state.className).toContain('updates-state-warn');
    expect(state.textContent).toContain('Update check failed');
    expect(screen.getByTestId('updates-state-error').textContent).toContain(
      'connecting to https://api.vendor.example: connection timed out after 10 s',
    );
    const retry = screen.getByTestId('updates-state-retry').textContent ?? '';
    expect(retry).toContain('Next retry at 2026-04-01 13:05:00 UTC');
    expect(retry).toContain('3 failed checks in a row');

    const rows = screen.getAllByTestId('check-row');
    expect(rows.map((r) => r.getAttribute('data-outcome'))).toEqual(['failed', 'ok']);
    expect(rows[0].textContent).toContain('retry');
    expect(rows[0].textContent).toContain('unreachable');
    expect(within(rows[0]).getByTestId('check-row-error').textContent).toContain('connection timed out');
    // No advisory, no license trouble: no banner.
    expect(screen.queryByTestId('update-banner')).toBeNull();
  });

  it('says known releases are kept when the release information is stale', async () => {
    routes({
      'GET /api/v1/updates': json(
        200,
        updatesStatus({
          state: 'metadata_stale',
          message: 'The api host serves an expired channel index.',
          index: { version: 3, expires_at: '2026-03-01T00:00:00Z', accepted_at: '2026-02-01T00:00:00Z', expired: true },
        }),
      ),
    });
    const state = await openUpdates();
    expect(state.getAttribute('data-state')).toBe('metadata_stale');
    expect(screen.getByTestId('updates-state-stale').textContent).toContain('already known are kept');
    expect(screen.getByTestId('updates-index-expired').textContent).toBe('EXPIRED');
    expect(screen.queryByTestId('updates-state-retry')).toBeNull();
  });

  it('shows the revoked license on the page and in a red banner', async () => {
    routes({ 'GET /api/v1/updates': json(200, LICENSE_REVOKED) });
    const state = await openUpdates();
    expect(state.getAttribute('data-state')).toBe('license_revoked');
    expect(state.className).toContain('updates-state-bad');
    expect(screen.getByTestId('updates-license-revoked').textContent).toContain('contract ended');
    const banner = await screen.findByTestId('update-banner-license-revoked');
    expect(banner.className).toContain('banner-error');
    expect(banner.textContent).toContain('The vendor revoked this license: contract ended');
  });

  it('checks now: posts with the CSRF token, disables the button meanwhile, shows the outcome and refreshes', async () => {
    const check = deferred();
    const m = routes({ 'POST /api/v1/updates/check': check.route });
    await openUpdates();
    expect(await screen.findByTestId('update-banner')).toBeTruthy();

    const button = screen.getByTestId('check-now') as HTMLButtonElement;
    fireEvent.click(button);
    await waitFor(() => expect(button.disabled).toBe(true));
    expect(button.textContent).toBe('Checking…');
    fireEvent.click(button);

    await act(async () => {
      check.release(
        json(200, {
          check: {
            id: 7,
            started_at: '2026-04-01T14:00:00Z',
            finished_at: '2026-04-01T14:00:01Z',
            trigger: 'admin',
            outcome: 'ok',
            problem: null,
            error: null,
            summary: 'Index 4: nothing new.',
          },
          status: UP_TO_DATE,
        }),
      );
    });

    const result = await screen.findByTestId('check-result');
    expect(result.textContent).toContain('Index 4: nothing new.');
    expect(screen.getByTestId('check-result-outcome').getAttribute('data-outcome')).toBe('ok');
    expect(button.disabled).toBe(false);
    const posts = m.callsTo('POST', '/api/v1/updates/check');
    expect(posts).toHaveLength(1);
    expect(posts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    // The page and the shell's banner show the status the check answered.
    expect(screen.getByTestId('updates-state').getAttribute('data-state')).toBe('up_to_date');
    expect(screen.getByTestId('updates-installed-release').textContent).toBe('1.2.0 (sequence 3)');
    expect(screen.queryByTestId('advisory-OSA-2026-0001')).toBeNull();
    expect(screen.queryByTestId('update-banner')).toBeNull();
  });

  it('shows a refused check (409) as an error and keeps the status', async () => {
    routes({
      'GET /api/v1/updates': json(200, updatesStatus({ state: 'airgap', airgap: 'Airgap mode is on.', message: 'No checks in airgap mode.' })),
      'POST /api/v1/updates/check': apiError(409, 'airgap_mode', 'Airgap mode is on: the console connects to nothing outside.'),
    });
    const state = await openUpdates();
    expect(screen.getByTestId('updates-state-airgap').textContent).toContain('Airgap mode is on.');
    fireEvent.click(screen.getByTestId('check-now'));
    const error = await screen.findByTestId('check-error');
    expect(error.textContent).toContain('Airgap mode is on: the console connects to nothing outside.');
    expect(screen.queryByTestId('check-result')).toBeNull();
    expect(state.getAttribute('data-state')).toBe('airgap');
    expect((screen.getByTestId('check-now') as HTMLButtonElement).disabled).toBe(false);
  });

  it('is reachable from the nav', async () => {
    routes({ 'GET /api/v1/outbound': json(200, { entries: [], next_before: null }) });
    go('/outbound');
    render(<App />);
    await screen.findByTestId('outbound-page');
    fireEvent.click(screen.getByTestId('nav-updates'));
    expect(await screen.findByTestId('updates-page')).toBeTruthy();
    expect(window.location.pathname).toBe('/updates');
  });
});

describe('update banner in the shell', () => {
  const OUTBOUND = { 'GET /api/v1/outbound': json(200, { entries: [], next_before: null }) };

  it('shows a revoked license on another page', async () => {
    routes({ ...OUTBOUND, 'GET /api/v1/updates': json(200, LICENSE_REVOKED) });
    go('/outbound');
    render(<App />);
    const banner = await screen.findByTestId('update-banner');
    expect(within(banner).getByTestId('update-banner-license-revoked').textContent).toContain('contract ended');
    expect(screen.getByTestId('outbound-page')).toBeTruthy();
  });

  it('shows an expired license', async () => {
    routes({
      ...OUTBOUND,
      'GET /api/v1/updates': json(
        200,
        updatesStatus({
          state: 'license_expired',
          message: 'The license expired on 2026-01-01. Load a renewed license.',
          advisories: [],
          license: { expires_at: '2026-01-01T00:00:00Z', expired: true, revoked: null, api_host: null },
        }),
      ),
    });
    go('/outbound');
    render(<App />);
    const banner = await screen.findByTestId('update-banner-license-expired');
    expect(banner.textContent).toContain('Load a renewed license');
    expect(screen.queryByTestId('update-banner-advisories')).toBeNull();
  });

  it('stays silent and keeps the page when the status cannot be read, even on a 401', async () => {
    const m = routes({ ...OUTBOUND, 'GET /api/v1/updates': apiError(401, 'unauthorized', 'Log in first.') });
    go('/outbound');
    render(<App />);
    await screen.findByTestId('outbound-page');
    await waitFor(() => expect(m.callsTo('GET', '/api/v1/updates')).toHaveLength(1));
    await act(async () => {
      await Promise.resolve();
    });
    expect(window.location.pathname).toBe('/outbound');
    expect(screen.queryByTestId('update-banner')).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('re-reads the status every minute', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let answer: unknown = UP_TO_DATE;
    const m = routes({ ...OUTBOUND, 'GET /api/v1/updates': () => json(200, answer) });
    go('/outbound');
    render(<App />);
    await screen.findByTestId('outbound-page');
    await waitFor(() => expect(m.callsTo('GET', '/api/v1/updates')).toHaveLength(1));
    expect(screen.queryByTestId('update-banner')).toBeNull();

    answer = updatesStatus();
    await act(async () => {
      await vi.advanceTimersByTimeAsync(UPDATES_REFRESH_MS);
    });
    expect(await screen.findByTestId('update-banner-advisories')).toBeTruthy();
    expect(m.callsTo('GET', '/api/v1/updates')).toHaveLength(2);
  });
});

describe('dashboard updates card', () => {
  it('shows the state, the message, the advisory count and a link', async () => {
    routes({
      'GET /api/v1/status': json(200, STATUS),
      'GET /api/v1/license': json(200, { license: null }),
      'GET /api/v1/nodes': json(200, { nodes: [] }),
      'GET /api/v1/app/status': json(200, APP_NOT_DEPLOYED),
    });
    go('/');
    render(<App />);
    const card = await screen.findByTestId('dashboard-updates');
    const state = await within(card).findByTestId('dashboard-updates-state');
    expect(state.getAttribute('data-value')).toBe('update_available');
    expect(state.textContent).toBe('Update available');
    expect(within(card).getByTestId('dashboard-updates-message').textContent).toContain('Release 1.2.0 is available');
    expect(within(card).getByTestId('dashboard-updates-advisories').textContent).toBe('1 advisory');
    expect(within(card).getByTestId('dashboard-updates-link').getAttribute('href')).toBe('/updates');
  });
});

describe('updates helpers', () => {
  it('summarises an advisory for the banner', () => {
    const [high, low] = toUpdatesStatus(updatesStatus({ advisories: [ADVISORY_HIGH, ADVISORY_LOW_UNFIXED] })).advisories;
    expect(advisorySummary(high)).toBe('OSA-2026-0001 (high) Session fixation in the login form — fixed in 1.1.0');
    expect(advisorySummary(low)).toBe('OSA-2026-0002 (low) Verbose error page — no fix yet');
  });

  it('marks a release as a fix from either side of the answer', () => {
    const status = toUpdatesStatus(updatesStatus());
    const [two, three] = status.available;
    expect(fixesOf(two, status.advisories)).toEqual(['OSA-2026-0001']);
    expect(fixesOf({ ...two, fixes: [] }, status.advisories)).toEqual(['OSA-2026-0001']);
    expect(fixesOf(three, status.advisories)).toEqual([]);
  });

  it('tells a revoked license from an expired one', () => {
    expect(licenseAlert(toUpdatesStatus(LICENSE_REVOKED))).toEqual({
      kind: 'revoked',
      text: 'The vendor revoked this license: contract ended',
    });
    expect(licenseAlert(toUpdatesStatus(UP_TO_DATE))).toBeNull();
    const expired = toUpdatesStatus(
      updatesStatus({
        state: 'license_expired',
        message: 'Expired.',
        license: { expires_at: '2026-01-01T00:00:00Z', expired: true, revoked: null, api_host: null },
      }),
    );
    expect(licenseAlert(expired)).toEqual({ kind: 'expired', text: 'Expired.' });
  });

  it('copies an answer defensively', () => {
    const status = toUpdatesStatus({ state: 'nonsense', available: 'x', advisories: [{ id: 'A', severity: 'weird' }] });
    expect(status.state).toBe('check_failed');
    expect(status.available).toEqual([]);
    expect(status.advisories[0].severity).toBe('critical');
    expect(status.advisories[0].fixed_in).toBeNull();
    expect(status.installed).toBeNull();
    expect(status.license).toBeNull();
    expect(status.checks).toEqual([]);
    expect(status.schedule).toEqual({ setting: '', description: '', offset_seconds: 0 });
  });
});
