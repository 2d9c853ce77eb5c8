import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { OVERRIDE_TEXT } from './components/PreflightPanel';
import { APP_RUNNING, deployment, PREFLIGHT_BLOCKING, PREFLIGHT_PASS, RELEASES } from './test/lifecycle';
import { apiError, HEALTH, json, mockApi, SESSION, type Call, type Route } from './test/mockApi';

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/releases': json(200, { releases: RELEASES }),
    'GET /api/v1/app/preflight': json(200, PREFLIGHT_BLOCKING),
    // Where a started deployment leads.
    'GET /api/v1/app/status': json(200, APP_RUNNING),
    'GET /api/v1/app/deployments/42': json(200, deployment()),
    ...extra,
  });
}

function sequenceOf(call: Call): string | null {
  return new URL(call.url, 'https://console.test').searchParams.get('sequence');
}

async function openPreflight(path = '/preflight') {
  go(path);
  render(<App />);
  await screen.findByTestId('preflight-page');
  await screen.findByTestId('preflight-release');
}

async function runPreflight() {
  fireEvent.click(screen.getByTestId('preflight-run'));
  return screen.findByTestId('preflight-report');
}

describe('preflight page', () => {
  it('runs preflight for the newest release and shows the results grouped cluster-wide / per node', async () => {
    const m = routes();
    await openPreflight();
    expect(document.title).toBe('Preflight · Outpost');
    expect(screen.getByTestId('nav-preflight').getAttribute('aria-current')).toBe('page');
    const select = screen.getByTestId('preflight-release') as HTMLSelectElement;
    expect(select.value).toBe('3');
    expect(Array.from(select.options).map((o) => o.textContent)).toEqual([
      '1.2.0 (sequence 3)',
      '1.1.0 (sequence 2) · required',
      '1.0.0 (sequence 1)',
    ]);
    // Nothing runs before the admin asks.
    expect(m.callsTo('GET', '/api/v1/app/preflight')).toHaveLength(0);

    await runPreflight();
    expect(sequenceOf(m.callsTo('GET', '/api/v1/app/preflight')[0])).toBe('3');

    const outcome = screen.getByTestId('preflight-outcome');
    expect(outcome.getAttribute('data-value')).toBe('fail');
    expect(outcome.getAttribute('data-blocking')).toBe('true');
    expect(outcome.textContent).toBe('Checks failed');
    expect(outcome.className).toContain('badge-bad');

    const groups = screen.getAllByTestId('preflight-group');
    // Cluster-wide first, then the nodes by name.
    expect(groups.map((g) => g.getAttribute('data-node'))).toEqual(['', 'node-a', 'node-b']);
    expect(groups[0].textContent).toContain('Cluster-wide');
    expect(groups[1].textContent).toContain('app-1');
    expect(groups[2].textContent).toContain('db-1');
    // Within a group: failures, then warnings, then passes.
    expect(within(groups[0]).getAllByTestId('preflight-result').map((r) => r.getAttribute('data-check'))).toEqual([
      'clock_skew',
      'node_count',
    ]);
    expect(within(groups[1]).getAllByTestId('preflight-result').map((r) => r.getAttribute('data-outcome'))).toEqual([
      'warn',
      'pass',
    ]);
    const failing = within(groups[2]).getByTestId('preflight-result');
    expect(failing.getAttribute('data-outcome')).toBe('fail');
    expect(within(failing).getByTestId('preflight-message').textContent).toBe(
      'Port 443 is in use by nginx (pid 812). Stop it or change the app port.',
    );
    expect(failing.querySelector('.badge-bad')?.textContent).toBe('fail');
    expect(screen.getByTestId('preflight-report').textContent).toMatch(/1 failed · 2 warnings · 2 passed/);
  });

  it('picks the release from ?sequence= and runs preflight for the chosen one', async () => {
    const m = routes();
    await openPreflight('/preflight?sequence=2');
    expect((screen.getByTestId('preflight-release') as HTMLSelectElement).value).toBe('2');
    fireEvent.change(screen.getByTestId('preflight-release'), { target: { value: '1' } });
    await runPreflight();
    expect(sequenceOf(m.callsTo('GET', '/api/v1/app/preflight')[0])).toBe('1');
  });

  it('blocks deploying after a failing check until the override is ticked, and sends the override', async () => {
    const m = routes({ 'POST /api/v1/app/deploy': json(202, deployment()) });
    await openPreflight();
    await runPreflight();

    const deploy = screen.getByTestId('preflight-deploy') as HTMLButtonElement;
    expect(deploy.textContent).toBe('Deploy anyway');
    expect(deploy.disabled).toBe(true);
    expect(screen.getByTestId('preflight-blocking').textContent).toContain(OVERRIDE_TEXT);
    fireEvent.click(deploy);
    expect(m.callsTo('POST', '/api/v1/app/deploy')).toHaveLength(0);

    const override = screen.getByTestId('preflight-override') as HTMLInputElement;
    expect(override.checked).toBe(false);
    expect(screen.getByLabelText(OVERRIDE_TEXT)).toBe(override);
    fireEvent.click(override);
    expect(deploy.disabled).toBe(false);
    fireEvent.click(override);
    expect(deploy.disabled).toBe(true);
    fireEvent.click(override);
    fireEvent.click(deploy);

    expect(await screen.findByTestId('deploy-page')).toBeTruthy();
    expect(window.location.pathname).toBe('/deploy');
    expect(window.location.search).toBe('?id=42');
    const posts = m.callsTo('POST', '/api/v1/app/deploy');
    expect(posts).toHaveLength(1);
    expect(posts[0].body).toEqual({ sequence: 3, override_preflight: true });
    expect(posts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect(posts[0].headers['content-type']).toBe('application/json');
    expect(await screen.findByTestId('deployment-state')).toBeTruthy();
  });

  it('starts the override unticked again after another run', async () => {
    routes();
    await openPreflight();
    await runPreflight();
    fireEvent.click(screen.getByTestId('preflight-override'));
    fireEvent.click(screen.getByTestId('preflight-run'));
    await waitFor(() => expect(screen.queryByTestId('preflight-running')).toBeNull());
    await screen.findByTestId('preflight-report');
    expect((screen.getByTestId('preflight-override') as HTMLInputElement).checked).toBe(false);
    expect((screen.getByTestId('preflight-deploy') as HTMLButtonElement).disabled).toBe(true);
  });

  it('deploys without override when nothing blocks', async () => {
    const m = routes({
      'GET /api/v1/app/preflight': json(200, PREFLIGHT_PASS),
      'POST /api/v1/app/deploy': json(202, deployment()),
    });
    await openPreflight();
    await runPreflight();
    expect(screen.getByTestId('preflight-outcome').textContent).toBe('All checks passed');
    expect(screen.queryByTestId('preflight-override')).toBeNull();
    const deploy = screen.getByTestId('preflight-deploy') as HTMLButtonElement;
    expect(deploy.textContent).toBe('Deploy 1.2.0 (sequence 3)');
    fireEvent.click(deploy);
    await waitFor(() => expect(window.location.search).toBe('?id=42'));
    expect(m.callsTo('POST', '/api/v1/app/deploy')[0].body).toEqual({ sequence: 3, override_preflight: false });
  });

  it('links to the running deployment when another deploy is in progress', async () => {
    routes({
      'GET /api/v1/app/preflight': json(200, PREFLIGHT_PASS),
      'POST /api/v1/app/deploy': apiError(409, 'deploy_in_progress', 'A deployment is already running.'),
      'GET /api/v1/app/deployments': json(200, { deployments: [], active: 77 }),
    });
    await openPreflight();
    await runPreflight();
    fireEvent.click(screen.getByTestId('preflight-deploy'));
    const error = await screen.findByTestId('deploy-error');
    expect(error.textContent).toContain('A deployment is already running.');
    const link = within(error).getByTestId('deploy-active-link');
    expect(link.getAttribute('href')).toBe('/deploy?id=77');
    expect(window.location.pathname).toBe('/preflight');
    expect((screen.getByTestId('preflight-deploy') as HTMLButtonElement).disabled).toBe(false);
  });

  it('shows the console message when the deploy is refused', async () => {
    routes({
      'GET /api/v1/app/preflight': json(200, PREFLIGHT_PASS),
      'POST /api/v1/app/deploy': apiError(
        400,
        'plan_invalid',
        'The config item "hostname" is required. Set it on the Config page.',
      ),
    });
    await openPreflight();
    await runPreflight();
    fireEvent.click(screen.getByTestId('preflight-deploy'));
    const error = await screen.findByTestId('deploy-error');
    expect(error.textContent).toContain('The config item "hostname" is required. Set it on the Config page.');
    expect(within(error).queryByTestId('deploy-active-link')).toBeNull();
  });

  it('shows why preflight could not run, and an empty state without releases', async () => {
    routes({ 'GET /api/v1/app/preflight': apiError(500, 'internal', 'No node answered in time.') });
    await openPreflight();
    fireEvent.click(screen.getByTestId('preflight-run'));
    expect((await screen.findByTestId('preflight-error')).textContent).toContain('No node answered in time.');
    expect(screen.queryByTestId('preflight-report')).toBeNull();
  });

  it('says how to load a release when none is loaded', async () => {
    routes({ 'GET /api/v1/releases': json(200, { releases: [] }) });
    go('/preflight');
    render(<App />);
    expect((await screen.findByTestId('preflight-empty')).textContent).toContain('outpostctl release load');
    expect(screen.queryByTestId('preflight-run')).toBeNull();
  });
});
