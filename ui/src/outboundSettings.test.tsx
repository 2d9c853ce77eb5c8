import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { apiError, HEALTH, json, mockApi, SESSION, type Route } from './test/mockApi';
import { OUTBOUND_SETTINGS, UP_TO_DATE } from './test/online';
import { initialOutboundForm, outboundUpdate } from './updates';
import { toOutboundSettings } from './api';

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/updates': json(200, UP_TO_DATE),
    'GET /api/v1/settings/outbound': json(200, OUTBOUND_SETTINGS),
    ...extra,
  });
}

async function openSettings() {
  go('/settings/outbound');
  render(<App />);
  await screen.findByTestId('settings-schedule');
}

function input(testId: string): HTMLInputElement {
  return screen.getByTestId(testId) as HTMLInputElement;
}

function type(testId: string, value: string) {
  fireEvent.change(screen.getByTestId(testId), { target: { value } });
}

describe('outbound settings page', () => {
  it('shows the settings and the proxy in use with its source', async () => {
    routes();
    await openSettings();
    expect(document.title).toBe('Outbound settings · Outpost');
    expect(screen.getByTestId('nav-outbound-settings').getAttribute('aria-current')).toBe('page');
    expect(input('settings-schedule').value).toBe('every 1h');
    expect(input('settings-airgap').checked).toBe(false);
    expect(input('settings-proxy').value).toBe('http://user:********@proxy.corp:3128/');
    expect(input('settings-no-proxy').value).toBe('internal,.corp');
    expect(screen.getByTestId('settings-effective-proxy').textContent).toBe(
      'http://user:********@proxy.corp:3128/ · from the console setting',
    );
    expect(screen.queryByTestId('settings-airgap-reason')).toBeNull();
    expect(screen.getByTestId('settings-dirty').textContent).toBe('No unsaved changes');
    expect((screen.getByTestId('settings-save') as HTMLButtonElement).disabled).toBe(true);
  });

  it('sends only the changed field, with the CSRF token, and says it is saved', async () => {
    const m = routes({
      'PUT /api/v1/settings/outbound': json(200, {
        ...OUTBOUND_SETTINGS,
        update_schedule: 'every 30m',
        schedule_description: 'every 30m',
      }),
    });
    await openSettings();
    type('settings-schedule', '  every 30m ');
    expect(screen.getByTestId('settings-dirty').textContent).toBe('Unsaved changes');
    fireEvent.click(screen.getByTestId('settings-save'));

    expect(await screen.findByTestId('settings-saved')).toBeTruthy();
    const puts = m.callsTo('PUT', '/api/v1/settings/outbound');
    expect(puts).toHaveLength(1);
    expect(puts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    // The masked proxy is not sent back: the stored password stays.
    expect(puts[0].body).toEqual({ update_schedule: 'every 30m' });
    expect(input('settings-schedule').value).toBe('every 30m');
    expect(screen.getByTestId('settings-dirty').textContent).toBe('No unsaved changes');
  });

  it('sends an empty proxy to clear it, and the NO_PROXY list when changed', async () => {
    const m = routes({ 'PUT /api/v1/settings/outbound': json(200, { ...OUTBOUND_SETTINGS, https_proxy: null }) });
    await openSettings();
    type('settings-proxy', '');
    type('settings-no-proxy', 'internal,.corp,10.0.0.0/8');
    fireEvent.click(screen.getByTestId('settings-save'));
    await screen.findByTestId('settings-saved');
    expect(m.callsTo('PUT', '/api/v1/settings/outbound')[0].body).toEqual({
      https_proxy: '',
      no_proxy: 'internal,.corp,10.0.0.0/8',
    });
  });

  it('shows the console refusal and keeps the edits', async () => {
    routes({
      'PUT /api/v1/settings/outbound': apiError(
        400,
        'settings_invalid',
        'update_schedule: "every blue moon" is not a schedule: use `off`, `every 1h` (s, m, h or d), or `cron 0 * * * *`',
      ),
    });
    await openSettings();
    type('settings-schedule', 'every blue moon');
    fireEvent.click(screen.getByTestId('settings-save'));
    const error = await screen.findByTestId('settings-error');
    expect(error.textContent).toContain('update_schedule: "every blue moon" is not a schedule');
    expect(screen.queryByTestId('settings-saved')).toBeNull();
    expect(input('settings-schedule').value).toBe('every blue moon');
    expect(screen.getByTestId('settings-dirty').textContent).toBe('Unsaved changes');
  });

  it('asks before turning airgap mode on, and sends nothing when cancelled', async () => {
    const m = routes({
      'PUT /api/v1/settings/outbound': json(200, {
        ...OUTBOUND_SETTINGS,
        airgap_mode: true,
        airgap: 'Airgap mode is on (set by the admin).',
      }),
    });
    await openSettings();
    fireEvent.click(screen.getByTestId('settings-airgap'));
    expect(input('settings-airgap').checked).toBe(true);
    fireEvent.click(screen.getByTestId('settings-save'));

    const dialog = screen.getByTestId('airgap-dialog');
    expect(dialog.textContent).toContain('Nothing will leave this install');
    fireEvent.click(screen.getByTestId('airgap-cancel'));
    expect(screen.queryByTestId('airgap-dialog')).toBeNull();
    expect(m.callsTo('PUT', '/api/v1/settings/outbound')).toHaveLength(0);

    fireEvent.click(screen.getByTestId('settings-save'));
    fireEvent.click(screen.getByTestId('airgap-confirm'));
    await screen.findByTestId('settings-saved');
    expect(m.callsTo('PUT', '/api/v1/settings/outbound').map((c) => c.body)).toEqual([{ airgap_mode: true }]);
    await waitFor(() => expect(screen.queryByTestId('airgap-dialog')).toBeNull());
    expect(screen.getByTestId('settings-airgap-reason').textContent).toContain('set by the admin');
    expect(input('settings-airgap').checked).toBe(true);
  });

  it('turns airgap mode off without asking', async () => {
    const on = { ...OUTBOUND_SETTINGS, airgap_mode: true, airgap: 'Airgap mode is on (set by the admin).' };
    const m = routes({
      'GET /api/v1/settings/outbound': json(200, on),
      'PUT /api/v1/settings/outbound': json(200, OUTBOUND_SETTINGS),
    });
    await openSettings();
    fireEvent.click(screen.getByTestId('settings-airgap'));
    fireEvent.click(screen.getByTestId('settings-save'));
    await screen.findByTestId('settings-saved');
    expect(screen.queryByTestId('airgap-dialog')).toBeNull();
    expect(m.callsTo('PUT', '/api/v1/settings/outbound')[0].body).toEqual({ airgap_mode: false });
  });

  it('builds the change set from the differences only', () => {
    const loaded = initialOutboundForm(toOutboundSettings({ ...OUTBOUND_SETTINGS, https_proxy: null }));
    expect(loaded.https_proxy).toBe('');
    expect(outboundUpdate(loaded, loaded)).toEqual({});
    expect(outboundUpdate({ ...loaded, no_proxy: ' internal,.corp ' }, loaded)).toEqual({});
    expect(outboundUpdate({ ...loaded, https_proxy: 'http://proxy:3128' }, loaded)).toEqual({
      https_proxy: 'http://proxy:3128',
    });
    expect(outboundUpdate({ ...loaded, update_schedule: 'off', airgap_mode: true }, loaded)).toEqual({
      update_schedule: 'off',
      airgap_mode: true,
    });
  });
});
