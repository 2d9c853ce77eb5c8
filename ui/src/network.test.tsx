import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { toNetworkReport } from './api';
import { apiError, HEALTH, json, mockApi, SESSION, type Reply, type Route } from './test/mockApi';
import { NETWORK, NETWORK_AIRGAP, UP_TO_DATE } from './test/online';

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/updates': json(200, UP_TO_DATE),
    'GET /api/v1/network': json(200, NETWORK),
    ...extra,
  });
}

async function openNetwork() {
  go('/network');
  render(<App />);
  return screen.findByTestId('network-summary');
}

function checks(row: HTMLElement) {
  return within(row)
    .getAllByTestId('network-check')
    .map((c) => [c.getAttribute('data-on'), c.getAttribute('data-result'), c.textContent]);
}

describe('network page', () => {
  it('shows the inbound and outbound rows with their checks, the proxy and the problem count', async () => {
    routes();
    await openNetwork();
    expect(document.title).toBe('Network · Outpost');
    expect(screen.getByTestId('nav-network').getAttribute('aria-current')).toBe('page');

    expect(screen.getByTestId('network-problems').getAttribute('data-value')).toBe('1');
    expect(screen.getByTestId('network-proxy').textContent).toBe('http://proxy.corp:3128/');
    expect(screen.getByTestId('network-release').textContent).toContain('1.0.0 (sequence 1)');
    expect(screen.queryByTestId('network-airgap')).toBeNull();

    const consoleRow = screen.getByTestId('inbound-8800');
    expect(consoleRow.textContent).toContain('console host');
    expect(consoleRow.textContent).toContain('tcp (HTTPS)');
    expect(consoleRow.textContent).toContain('The admin console and the node agents');
    expect(within(consoleRow).getByTestId('inbound-airgap').textContent).toBe('needed in airgap');
    expect(checks(consoleRow)).toEqual([['console', 'ok', 'okconsole listening']]);

    const range = screen.getByTestId('inbound-9870-9880');
    expect(range.getAttribute('data-role')).toBe('every node');
    expect(checks(range)).toEqual([
      ['app-1', 'ok', 'okapp-1 free'],
      ['db-1', 'problem', 'problemdb-1 port 9871 is used by sshd (pid 77)'],
    ]);
    const badges = within(range).getAllByTestId('network-check-result');
    expect(badges.map((b) => b.className)).toEqual(['badge badge-ok', 'badge badge-bad']);

    const api = screen.getByTestId('outbound-api.vendor.example');
    expect(api.textContent).toContain('api.vendor.example:443');
    expect(api.textContent).toContain('https');
    expect(api.textContent).toContain('the console');
    expect(within(api).getByTestId('outbound-not-airgap').textContent).toBe('not needed in airgap');
    expect(within(api).getByTestId('network-check-result').textContent).toBe('ok');
    expect(api.textContent).toContain('TLS handshake in 84 ms through the proxy');
    const registry = screen.getByTestId('outbound-registry.vendor.example');
    expect(registry.textContent).toContain("every node's Docker engine");
    expect(within(registry).getByTestId('network-check-result').className).toBe('badge badge-neutral');
    expect(within(registry).getByTestId('network-check-result').textContent).toBe('unknown');
  });

  it("shows each node's Docker engine proxy and whether it matches the console's", async () => {
    routes();
    await openNetwork();
    const row = screen.getByTestId('engine-app-1');
    expect(row.textContent).toContain('direct');
    expect(within(row).getByTestId('network-check').getAttribute('data-result')).toBe('problem');
    expect(row.textContent).toContain('connects directly');
  });

  it('says there is no outbound connection at all in airgap mode', async () => {
    routes({ 'GET /api/v1/network': json(200, NETWORK_AIRGAP) });
    await openNetwork();
    const notice = screen.getByTestId('network-airgap');
    expect(notice.textContent).toContain('Airgap mode: no outbound connection at all.');
    expect(notice.textContent).toContain('Airgap mode is on (set by the admin).');
    expect(screen.getByTestId('network-outbound-none').textContent).toBe('Airgap mode: no outbound connection at all.');
    expect(screen.queryByTestId('outbound-api.vendor.example')).toBeNull();
    expect(screen.getByTestId('network-proxy').textContent).toContain('none (airgap mode)');
    expect(screen.getByTestId('network-problems').getAttribute('data-value')).toBe('0');
    // The inbound ports are still needed.
    expect(screen.getByTestId('inbound-8800')).toBeTruthy();
  });

  it('runs the checks again, showing that they run meanwhile', async () => {
    let release: (reply: Reply) => void = () => undefined;
    let calls = 0;
    const m = routes({
      'GET /api/v1/network': () => {
        calls += 1;
        if (calls === 1) return json(200, NETWORK);
        return new Promise<Reply>((resolve) => {
          release = resolve;
        });
      },
    });
    await openNetwork();
    const button = screen.getByTestId('network-run') as HTMLButtonElement;
    expect(button.disabled).toBe(false);
    fireEvent.click(button);
    expect(await screen.findByTestId('network-running')).toBeTruthy();
    expect(button.disabled).toBe(true);
    expect(button.textContent).toBe('Running checks…');
    // The last results stay visible while the new run goes on.
    expect(screen.getByTestId('inbound-8800')).toBeTruthy();

    await act(async () => {
      release(json(200, { ...NETWORK, problems: 0, inbound: NETWORK.inbound.slice(0, 1) }));
    });
    await waitFor(() => expect(screen.queryByTestId('network-running')).toBeNull());
    expect(button.disabled).toBe(false);
    expect(screen.getByTestId('network-problems').getAttribute('data-value')).toBe('0');
    expect(screen.queryByTestId('inbound-9870-9880')).toBeNull();
    expect(m.callsTo('GET', '/api/v1/network')).toHaveLength(2);
  });

  it('shows why the checks could not run', async () => {
    routes({ 'GET /api/v1/network': apiError(500, 'internal', 'The node agents did not answer.') });
    go('/network');
    render(<App />);
    const error = await screen.findByTestId('network-error');
    expect(error.textContent).toContain('The node agents did not answer.');
    expect(screen.queryByTestId('network-summary')).toBeNull();
  });

  it('copies an answer defensively', () => {
    const report = toNetworkReport({
      inbound: [{ port: 8800, checks: [{ on: 'console', result: 'weird' }] }],
      outbound: 'nope',
      problems: '2',
    });
    expect(report.inbound[0].port).toBe('8800');
    expect(report.inbound[0].checks[0].result).toBe('unknown');
    expect(report.inbound[0].needed_in_airgap).toBe(false);
    expect(report.outbound).toEqual([]);
    expect(report.problems).toBe(0);
    expect(report.airgap).toBeNull();
    expect(report.release).toBeNull();
  });
});
