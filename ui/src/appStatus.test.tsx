import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { APP_STATUS_REFRESH_MS } from './pages/AppStatusPage';
import { APP_RUNNING } from './test/lifecycle';
import { apiError, APP_NOT_DEPLOYED, HEALTH, json, mockApi, SESSION, STATUS, type Route } from './test/mockApi';

const NOW = new Date('2025-06-01T12:00:00Z');

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/app/status': json(200, APP_RUNNING),
    ...extra,
  });
}

async function openApp() {
  go('/app');
  const view = render(<App />);
  await screen.findByTestId('app-state');
  return view;
}

async function tick(ms: number) {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

beforeEach(() => {
  vi.useFakeTimers({ shouldAdvanceTime: true, now: NOW });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('application page', () => {
  it('shows the state, the installed release and every replica of every service', async () => {
    routes();
    await openApp();
    expect(document.title).toBe('Application · Outpost');
    expect(screen.getByTestId('nav-app').getAttribute('aria-current')).toBe('page');
    const state = screen.getByTestId('app-state');
    expect(state.getAttribute('data-value')).toBe('running');
    expect(state.textContent).toBe('Running');
    expect(state.className).toContain('badge-ok');
    expect(screen.getByTestId('app-installed').textContent).toBe('1.1.0 (sequence 2)');
    expect(screen.getByTestId('app-installed-deployment').getAttribute('href')).toBe('/deploy?id=44');

    const web = screen.getByTestId('service-web');
    expect(within(web).getByTestId('service-state').getAttribute('data-value')).toBe('running');
    const rows = within(web).getAllByTestId('replica-row');
    expect(rows.map((r) => [r.getAttribute('data-replica'), r.getAttribute('data-node')])).toEqual([
      ['1', 'node-a'],
      ['2', 'node-b'],
    ]);
    const second = within(rows[1]);
    expect(rows[1].textContent).toContain('db-1');
    expect(second.getByTestId('replica-container').textContent).toBe('acme-web-2');
    expect(second.getByTestId('replica-state').textContent).toBe('running');
    expect(second.getByTestId('replica-health').textContent).toBe('starting');
    expect(second.getByTestId('replica-restarts').textContent).toBe('2');
    expect(second.getByTestId('replica-started').textContent).toBe('2 min ago');
    expect(second.getByTestId('replica-started').getAttribute('data-value')).toBe('2025-06-01T11:58:00Z');
    expect(second.getByTestId('replica-logs').getAttribute('href')).toBe('/logs?service=web&replica=2');

    const db = screen.getByTestId('service-db');
    expect(within(db).getByTestId('service-state').className).toContain('badge-warn');
    const dbRow = within(db).getByTestId('replica-row');
    expect(within(dbRow).getByTestId('replica-state').className).toContain('badge-bad');
    expect(within(dbRow).getByTestId('replica-health').textContent).toBe('no check');

    expect(screen.queryByTestId('app-unreachable')).toBeNull();

    // Running: Start has nothing to do.
    expect((screen.getByTestId('app-start') as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId('app-stop') as HTMLButtonElement).disabled).toBe(false);
    expect((screen.getByTestId('app-restart') as HTMLButtonElement).disabled).toBe(false);
  });

  it('re-reads the status every 3 s and stops when the page is left', async () => {
    let state = 'running';
    const m = routes({ 'GET /api/v1/app/status': () => json(200, { ...APP_RUNNING, state }) });
    const view = await openApp();
    const first = m.callsTo('GET', '/api/v1/app/status').length;
    state = 'degraded';
    await tick(APP_STATUS_REFRESH_MS);
    await waitFor(() => expect(screen.getByTestId('app-state').getAttribute('data-value')).toBe('degraded'));
    expect(m.callsTo('GET', '/api/v1/app/status').length).toBe(first + 1);
    view.unmount();
    const atUnmount = m.callsTo('GET', '/api/v1/app/status').length;
    await tick(APP_STATUS_REFRESH_MS * 3);
    expect(m.callsTo('GET', '/api/v1/app/status').length).toBe(atUnmount);
  });

  it('asks before stopping; Cancel and Escape send nothing; confirm stops with the CSRF token', async () => {
    const m = routes({ 'POST /api/v1/app/stop': json(200, { ...APP_RUNNING, state: 'stopped' }) });
    await openApp();

    fireEvent.click(screen.getByTestId('app-stop'));
    let dialog = screen.getByTestId('app-action-dialog');
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(dialog.textContent).toMatch(/Stop the application\?/);
    expect(document.activeElement).toBe(within(dialog).getByTestId('app-action-cancel'));
    fireEvent.click(within(dialog).getByTestId('app-action-cancel'));
    expect(screen.queryByTestId('app-action-dialog')).toBeNull();
    fireEvent.click(screen.getByTestId('app-stop'));
    fireEvent.keyDown(screen.getByTestId('app-action-dialog'), { key: 'Escape' });
    expect(screen.queryByTestId('app-action-dialog')).toBeNull();
    expect(m.callsTo('POST', '/api/v1/app/stop')).toHaveLength(0);

    fireEvent.click(screen.getByTestId('app-stop'));
    dialog = screen.getByTestId('app-action-dialog');
    fireEvent.click(within(dialog).getByTestId('app-action-confirm'));
    await waitFor(() => expect(screen.queryByTestId('app-action-dialog')).toBeNull());
    const posts = m.callsTo('POST', '/api/v1/app/stop');
    expect(posts).toHaveLength(1);
    expect(posts[0].body).toEqual({});
    expect(posts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect(screen.getByTestId('app-state').getAttribute('data-value')).toBe('stopped');
    expect(screen.getByTestId('app-notice').textContent).toBe('The application is stopped.');
    expect((screen.getByTestId('app-stop') as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId('app-start') as HTMLButtonElement).disabled).toBe(false);
  });

  it('keeps the restart dialog open with the console message when it is refused', async () => {
    routes({
      'POST /api/v1/app/restart': apiError(409, 'deploy_in_progress', 'A deployment is running; try again after it.'),
    });
    await openApp();
    fireEvent.click(screen.getByTestId('app-restart'));
    fireEvent.click(screen.getByTestId('app-action-confirm'));
    const error = await screen.findByTestId('app-action-error');
    expect(error.textContent).toContain('A deployment is running; try again after it.');
    expect(screen.getByTestId('app-action-dialog')).toBeTruthy();
    expect((screen.getByTestId('app-action-confirm') as HTMLButtonElement).disabled).toBe(false);
  });

  it('starts a stopped application without asking', async () => {
    const m = routes({
      'GET /api/v1/app/status': json(200, { ...APP_RUNNING, state: 'stopped' }),
      'POST /api/v1/app/start': json(200, APP_RUNNING),
    });
    await openApp();
    fireEvent.click(screen.getByTestId('app-start'));
    await waitFor(() => expect(screen.getByTestId('app-state').getAttribute('data-value')).toBe('running'));
    expect(m.callsTo('POST', '/api/v1/app/start')).toHaveLength(1);
    expect(m.callsTo('POST', '/api/v1/app/start')[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect(screen.queryByTestId('app-action-dialog')).toBeNull();
  });

  it('points to deploying when nothing is deployed, with the actions disabled', async () => {
    routes({ 'GET /api/v1/app/status': json(200, APP_NOT_DEPLOYED) });
    await openApp();
    expect(screen.getByTestId('app-state').textContent).toBe('Not deployed');
    expect(screen.getByTestId('app-not-deployed').textContent).toMatch(/not deployed yet/);
    for (const id of ['app-start', 'app-stop', 'app-restart']) {
      expect((screen.getByTestId(id) as HTMLButtonElement).disabled).toBe(true);
    }
  });

  it('names the nodes that did not answer', async () => {
    routes({ 'GET /api/v1/app/status': json(200, { ...APP_RUNNING, state: 'degraded', unreachable: ['db-1'] }) });
    await openApp();
    expect(screen.getByTestId('app-unreachable').textContent).toContain('Not asked: db-1.');
  });

  it('links to the running deployment', async () => {
    routes({ 'GET /api/v1/app/status': json(200, { ...APP_RUNNING, state: 'deploying', active_deployment: 45 }) });
    await openApp();
    expect(screen.getByTestId('app-active-deployment').getAttribute('href')).toBe('/deploy?id=45');
    expect((screen.getByTestId('app-restart') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('dashboard application card', () => {
  function dashboardRoutes(appStatus: Route) {
    return mockApi({
      'GET /api/v1/session': json(200, SESSION),
      'GET /api/v1/health': json(200, HEALTH),
      'GET /api/v1/status': json(200, STATUS),
      'GET /api/v1/license': json(200, { license: null }),
      'GET /api/v1/nodes': json(200, { nodes: [] }),
      'GET /api/v1/app/status': appStatus,
    });
  }

  it('shows the state, the installed release and a link to the running deployment', async () => {
    dashboardRoutes(json(200, { ...APP_RUNNING, state: 'deploying', active_deployment: 45 }));
    go('/');
    render(<App />);
    const state = await screen.findByTestId('dashboard-app-state');
    expect(state.getAttribute('data-value')).toBe('deploying');
    expect(screen.getByTestId('dashboard-app-version').textContent).toBe('1.1.0 (sequence 2)');
    expect(screen.getByTestId('dashboard-app-link').getAttribute('href')).toBe('/app');
    expect(screen.getByTestId('dashboard-app-deployment').getAttribute('href')).toBe('/deploy?id=45');
  });

  it('keeps the dashboard working when the console has no app status', async () => {
    dashboardRoutes(apiError(404, 'not_found', 'No such route.'));
    go('/');
    render(<App />);
    expect((await screen.findByTestId('dashboard-app-unavailable')).textContent).toMatch(/not available/);
    expect(screen.getByTestId('uptime')).toBeTruthy();
    expect(screen.queryByRole('alert', { name: /application/i })).toBeNull();
    expect(window.location.pathname).toBe('/');
  });
});
