import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { toAppStatus, toDeployment } from './api';
import { canRollBackTo, installedDeploymentId } from './pages/HistoryPage';
import { APP_RUNNING, deployment, HISTORY } from './test/lifecycle';
import { apiError, HEALTH, json, mockApi, SESSION, type Call, type Route } from './test/mockApi';

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/app/deployments': json(200, HISTORY),
    'GET /api/v1/app/status': json(200, APP_RUNNING),
    ...extra,
  });
}

async function openHistory() {
  go('/history');
  render(<App />);
  await screen.findByTestId('history-table');
}

function row(id: number): HTMLElement {
  return screen.getByTestId(`history-row-${id}`);
}

function limitOf(call: Call): string | null {
  return new URL(call.url, 'https://console.test').searchParams.get('limit');
}

describe('history page', () => {
  it('lists every deployment with kind, release, actor, times, config hash and outcome', async () => {
    const m = routes();
    await openHistory();
    expect(document.title).toBe('Deployment history · Outpost');
    expect(screen.getByTestId('nav-history').getAttribute('aria-current')).toBe('page');
    expect(limitOf(m.callsTo('GET', '/api/v1/app/deployments')[0])).toBe('100');

    const ids = Array.from(document.querySelectorAll('[data-testid^="history-row-"]')).map((r) =>
      r.getAttribute('data-testid'),
    );
    expect(ids).toEqual(['history-row-44', 'history-row-43', 'history-row-41', 'history-row-40', 'history-row-39']);

    const rolledBack = within(row(43));
    expect(row(43).getAttribute('data-state')).toBe('rolled_back');
    expect(rolledBack.getByTestId('history-state').textContent).toBe('Rolled back');
    expect(rolledBack.getByTestId('history-message').textContent).toBe(
      'web did not become healthy within 120 s; the previous release was restored.',
    );
    expect(row(43).textContent).toContain('Update');
    expect(row(43).textContent).toContain('1.2.0');
    expect(row(43).textContent).toContain('(3)');
    expect(row(43).textContent).toContain('admin');
    expect(row(43).textContent).toContain('2025-06-01 12:00:00 UTC');
    expect(row(43).textContent).toContain('2025-06-01 12:08:00 UTC');
    const hash = rolledBack.getByTestId('history-config-hash');
    expect(hash.textContent).toBe('c0ffee123456');
    expect(hash.getAttribute('title')).toBe(deployment().config_hash);
    expect(within(row(43)).getByTestId('history-link-43').getAttribute('href')).toBe('/deploy?id=43');

    expect(row(44).textContent).toContain('Automatic rollback');
    expect(within(row(44)).getByTestId('history-installed')).toBeTruthy();
    expect(within(row(40)).queryByTestId('history-installed')).toBeNull();
    expect(row(40).textContent).toContain('preflight overridden');

    // Details expand in place.
    fireEvent.click(within(row(43)).getByTestId('history-toggle-43'));
    expect(screen.getByTestId('history-details-43').textContent).toContain(deployment().config_hash);
  });

  it('offers rollback only to earlier successful deployments that are not installed', async () => {
    routes();
    await openHistory();
    expect(screen.queryByTestId('rollback-44')).toBeNull(); // installed
    expect(screen.queryByTestId('rollback-43')).toBeNull(); // rolled back
    expect(screen.queryByTestId('rollback-39')).toBeNull(); // failed
    expect(screen.getByTestId('rollback-41').textContent).toBe('Roll back');
    expect(screen.getByTestId('rollback-40')).toBeTruthy();
  });

  it('asks first, then rolls back with POST /app/rollback and follows the new deployment', async () => {
    const m = routes({
      'POST /api/v1/app/rollback': json(202, deployment({ id: 45, kind: 'manual_rollback', sequence: 1, version: '1.0.0' })),
      'GET /api/v1/app/deployments/45': json(
        200,
        deployment({ id: 45, kind: 'manual_rollback', sequence: 1, version: '1.0.0' }),
      ),
      'GET /api/v1/releases': json(200, { releases: [] }),
    });
    await openHistory();

    fireEvent.click(screen.getByTestId('rollback-40'));
    let dialog = screen.getByTestId('rollback-dialog');
    expect(dialog.textContent).toContain('Roll back to 1.0.0 (sequence 1)?');
    expect(dialog.textContent).toMatch(/config of deployment 40/);
    expect(document.activeElement).toBe(within(dialog).getByTestId('rollback-cancel'));
    fireEvent.click(within(dialog).getByTestId('rollback-cancel'));
    expect(screen.queryByTestId('rollback-dialog')).toBeNull();
    fireEvent.click(screen.getByTestId('rollback-40'));
    fireEvent.keyDown(screen.getByTestId('rollback-dialog'), { key: 'Escape' });
    expect(screen.queryByTestId('rollback-dialog')).toBeNull();
    expect(m.callsTo('POST', '/api/v1/app/rollback')).toHaveLength(0);

    fireEvent.click(screen.getByTestId('rollback-40'));
    dialog = screen.getByTestId('rollback-dialog');
    fireEvent.click(within(dialog).getByTestId('rollback-confirm'));

    expect(await screen.findByTestId('deploy-page')).toBeTruthy();
    expect(window.location.pathname).toBe('/deploy');
    expect(window.location.search).toBe('?id=45');
    const posts = m.callsTo('POST', '/api/v1/app/rollback');
    expect(posts).toHaveLength(1);
    // The id goes back exactly as the console sent it.
    expect(posts[0].body).toEqual({ deployment_id: 40 });
    expect(posts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect((await screen.findByTestId('deployment')).getAttribute('data-id')).toBe('45');
  });

  it('keeps the dialog open with the refusal and a link when a deployment is running', async () => {
    routes({
      'GET /api/v1/app/deployments': (call) =>
        limitOf(call) === '1' ? json(200, { deployments: [], active: 46 }) : json(200, HISTORY),
      'POST /api/v1/app/rollback': apiError(409, 'deploy_in_progress', 'A deployment is already running.'),
    });
    await openHistory();
    fireEvent.click(screen.getByTestId('rollback-41'));
    fireEvent.click(screen.getByTestId('rollback-confirm'));
    const error = await screen.findByTestId('rollback-error');
    expect(error.textContent).toContain('A deployment is already running.');
    expect(within(error).getByTestId('deploy-active-link').getAttribute('href')).toBe('/deploy?id=46');
    expect(screen.getByTestId('rollback-dialog')).toBeTruthy();
    expect(window.location.pathname).toBe('/history');
  });

  it('disables rollback while a deployment runs and links to it', async () => {
    routes({ 'GET /api/v1/app/deployments': json(200, { ...HISTORY, active: 46 }) });
    await openHistory();
    expect(screen.getByTestId('history-active-link').getAttribute('href')).toBe('/deploy?id=46');
    expect((screen.getByTestId('rollback-41') as HTMLButtonElement).disabled).toBe(true);
  });

  it('works without the app status, and says when nothing was deployed', async () => {
    routes({ 'GET /api/v1/app/status': apiError(500, 'internal', 'No node answered.') });
    await openHistory();
    // The newest successful deployment counts as installed.
    await waitFor(() => expect(within(row(44)).getByTestId('history-installed')).toBeTruthy());
    expect(screen.queryByTestId('history-error')).toBeNull();

    routes({ 'GET /api/v1/app/deployments': json(200, { deployments: [], active: null }) });
    fireEvent.click(screen.getByTestId('history-refresh'));
    expect(await screen.findByTestId('history-empty')).toBeTruthy();
  });
});

describe('rollback rules', () => {
  const list = HISTORY.deployments.map(toDeployment);

  it('takes the installed deployment from the status, else the newest successful one', () => {
    expect(installedDeploymentId(list, null)).toBe(44);
    const status = toAppStatus({ ...APP_RUNNING, installed: { ...APP_RUNNING.installed, deployment_id: 41 } });
    expect(installedDeploymentId(list, status)).toBe(41);
  });

  it('allows only succeeded deployments other than the installed one, comparing ids as text', () => {
    const byId = (id: number) => list.find((d) => d.id === id)!;
    expect(canRollBackTo(byId(41), 44)).toBe(true);
    expect(canRollBackTo(byId(41), '41')).toBe(false);
    expect(canRollBackTo(byId(43), 44)).toBe(false);
    expect(canRollBackTo(byId(39), 44)).toBe(false);
  });
});
