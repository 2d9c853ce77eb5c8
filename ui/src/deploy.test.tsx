import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { DEPLOYMENT_POLL_MS } from './components/DeploymentView';
import { deployVerb } from './pages/DeployPage';
import {
  APP_RUNNING,
  deployment,
  DEPLOYMENT_SUCCEEDED,
  PREFLIGHT_BLOCKING,
  PREFLIGHT_PASS,
  RELEASES,
} from './test/lifecycle';
import { apiError, HEALTH, json, mockApi, SESSION, type Call, type Route } from './test/mockApi';

const NOW = new Date('2025-06-01T12:00:30Z');

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/releases': json(200, { releases: RELEASES }),
    'GET /api/v1/app/status': json(200, APP_RUNNING),
    ...extra,
  });
}

function sequenceOf(call: Call): string | null {
  return new URL(call.url, 'https://console.test').searchParams.get('sequence');
}

function releaseRow(sequence: number): HTMLElement {
  const row = document.querySelector<HTMLElement>(`[data-testid="release-row"][data-sequence="${sequence}"]`);
  if (!row) throw new Error(`no row for sequence ${sequence}`);
  return row;
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

describe('deploy page: releases', () => {
  it('marks the release another page sent the admin to', async () => {
    routes();
    go('/deploy?release=3');
    render(<App />);
    await screen.findByTestId('releases-table');
    expect(releaseRow(3).getAttribute('data-target')).toBe('true');
    expect(releaseRow(3).className).toContain('row-target');
    expect(releaseRow(2).getAttribute('data-target')).toBeNull();
    expect(releaseRow(1).getAttribute('data-target')).toBeNull();
  });

  it('lists the loaded releases with notes, marks the installed one and labels each button', async () => {
    routes();
    go('/deploy');
    render(<App />);
    await screen.findByTestId('releases-table');
    expect(screen.getByTestId('nav-deploy').getAttribute('aria-current')).toBe('page');
    const rows = screen.getAllByTestId('release-row');
    expect(rows.map((r) => r.getAttribute('data-sequence'))).toEqual(['3', '2', '1']);

    await waitFor(() => expect(releaseRow(2).getAttribute('data-installed')).toBe('true'));
    expect(within(releaseRow(2)).getByTestId('release-installed').textContent).toBe('installed');
    expect(within(releaseRow(3)).queryByTestId('release-installed')).toBeNull();
    expect(within(releaseRow(2)).getByTestId('release-required')).toBeTruthy();
    expect(within(releaseRow(3)).getByTestId('release-notes').textContent).toBe('Faster reports.\nNew audit export.');
    expect(within(releaseRow(1)).getByTestId('release-notes').textContent).toBe('No notes.');

    expect(screen.getByTestId('deploy-button-3').textContent).toBe('Update');
    expect(screen.getByTestId('deploy-button-2').textContent).toBe('Redeploy');
    expect(screen.getByTestId('deploy-button-1').textContent).toBe('Deploy');
    // Nothing running: no deployment is shown.
    expect(screen.queryByTestId('deployment')).toBeNull();
  });

  it('runs preflight first, shows it, needs the override when blocking, then follows the new deployment', async () => {
    let current = deployment({ id: 50 });
    const m = routes({
      'GET /api/v1/app/preflight': json(200, PREFLIGHT_BLOCKING),
      'POST /api/v1/app/deploy': () => json(202, current),
      'GET /api/v1/app/deployments/50': () => json(200, current),
    });
    go('/deploy');
    render(<App />);
    await screen.findByTestId('releases-table');
    await waitFor(() => expect(releaseRow(2).getAttribute('data-installed')).toBe('true'));

    fireEvent.click(screen.getByTestId('deploy-button-3'));
    const panel = await screen.findByTestId('deploy-preflight');
    await within(panel).findByTestId('preflight-report');
    expect(sequenceOf(m.callsTo('GET', '/api/v1/app/preflight')[0])).toBe('3');
    expect(within(panel).getByTestId('preflight-outcome').getAttribute('data-value')).toBe('fail');
    expect(within(panel).getAllByTestId('preflight-result')).toHaveLength(5);

    const deploy = within(panel).getByTestId('preflight-deploy') as HTMLButtonElement;
    expect(deploy.disabled).toBe(true);
    fireEvent.click(deploy);
    expect(m.callsTo('POST', '/api/v1/app/deploy')).toHaveLength(0);
    fireEvent.click(within(panel).getByTestId('preflight-override'));
    fireEvent.click(deploy);

    await waitFor(() => expect(window.location.search).toBe('?id=50'));
    const posts = m.callsTo('POST', '/api/v1/app/deploy');
    expect(posts).toHaveLength(1);
    expect(posts[0].body).toEqual({ sequence: 3, override_preflight: true });
    expect(posts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect((await screen.findByTestId('deployment-state')).getAttribute('data-value')).toBe('running');
    expect(screen.queryByTestId('deploy-preflight')).toBeNull();

    current = deployment({ id: 50, state: 'succeeded', progress: { done: 4, total: 4 }, message: 'Done.' });
    await tick(DEPLOYMENT_POLL_MS);
    await waitFor(() => expect(screen.getByTestId('deployment-state').getAttribute('data-value')).toBe('succeeded'));
  });

  it('deploys at once from a passing preflight, and cancels without deploying', async () => {
    const m = routes({
      'GET /api/v1/app/preflight': json(200, PREFLIGHT_PASS),
      'POST /api/v1/app/deploy': json(202, deployment({ id: 51 })),
      'GET /api/v1/app/deployments/51': json(200, deployment({ id: 51 })),
    });
    go('/deploy');
    render(<App />);
    await screen.findByTestId('releases-table');
    await waitFor(() => expect(releaseRow(2).getAttribute('data-installed')).toBe('true'));

    fireEvent.click(screen.getByTestId('deploy-button-1'));
    await screen.findByTestId('preflight-report');
    fireEvent.click(screen.getByTestId('preflight-cancel'));
    expect(screen.queryByTestId('deploy-preflight')).toBeNull();

    fireEvent.click(screen.getByTestId('deploy-button-3'));
    await screen.findByTestId('preflight-report');
    const deploy = screen.getByTestId('preflight-deploy') as HTMLButtonElement;
    expect(deploy.textContent).toBe('Update 1.2.0 (sequence 3)');
    fireEvent.click(deploy);
    await waitFor(() => expect(window.location.search).toBe('?id=51'));
    expect(m.callsTo('POST', '/api/v1/app/deploy').map((c) => c.body)).toEqual([
      { sequence: 3, override_preflight: false },
    ]);
  });

  it('links to the running deployment on 409 deploy_in_progress', async () => {
    routes({
      'GET /api/v1/app/preflight': json(200, PREFLIGHT_PASS),
      'POST /api/v1/app/deploy': apiError(409, 'deploy_in_progress', 'A deployment is already running.'),
      'GET /api/v1/app/deployments': json(200, { deployments: [], active: 77 }),
    });
    go('/deploy');
    render(<App />);
    await screen.findByTestId('releases-table');
    fireEvent.click(screen.getByTestId('deploy-button-3'));
    await screen.findByTestId('preflight-report');
    fireEvent.click(screen.getByTestId('preflight-deploy'));
    const error = await screen.findByTestId('deploy-error');
    expect(error.textContent).toContain('A deployment is already running.');
    expect(within(error).getByTestId('deploy-active-link').getAttribute('href')).toBe('/deploy?id=77');
  });
});

describe('deploy page: fetch releases from the vendor', () => {
  it('fetches, reloads the list and says what was loaded, already there and refused', async () => {
    let listed = RELEASES.slice(2);
    const m = routes({
      'GET /api/v1/releases': () => json(200, { releases: listed }),
      'POST /api/v1/releases/fetch': () => {
        listed = RELEASES.slice(1);
        return json(200, {
          index_version: 7,
          fetched: [2],
          present: [1],
          refused: [{ sequence: 3, reason: 'digest mismatch with the index' }],
        });
      },
    });
    go('/deploy');
    render(<App />);
    await screen.findByTestId('releases-table');
    expect(screen.getAllByTestId('release-row')).toHaveLength(1);
    const button = screen.getByTestId('releases-fetch') as HTMLButtonElement;
    expect(button.textContent).toBe('Fetch releases from the vendor');

    fireEvent.click(button);
    const result = await screen.findByTestId('releases-fetch-result');
    const posts = m.callsTo('POST', '/api/v1/releases/fetch');
    expect(posts).toHaveLength(1);
    expect(posts[0].body).toEqual({});
    expect(posts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    // The list is read again after the fetch, and shows the new release.
    expect(m.callsTo('GET', '/api/v1/releases')).toHaveLength(2);
    await waitFor(() =>
      expect(screen.getAllByTestId('release-row').map((r) => r.getAttribute('data-sequence'))).toEqual(['2', '1']),
    );

    expect(result.textContent).toContain('version 7');
    const fetched = within(result).getByTestId('releases-fetch-fetched');
    expect(fetched.getAttribute('data-sequences')).toBe('2');
    expect(fetched.textContent).toContain('1.1.0 (sequence 2)');
    expect(within(result).getByTestId('releases-fetch-present').textContent).toContain('1.0.0 (sequence 1)');
    const refused = within(result).getAllByTestId('releases-fetch-refused');
    expect(refused).toHaveLength(1);
    expect(refused[0].getAttribute('data-sequence')).toBe('3');
    expect(refused[0].textContent).toContain('digest mismatch with the index');
    expect(result.className).toContain('banner-warning');
    expect(screen.queryByTestId('releases-fetch-error')).toBeNull();
    expect(button.disabled).toBe(false);
  });

  it('fetches into an empty list and says when nothing is new', async () => {
    let listed: unknown[] = [];
    let answer = { index_version: 3, fetched: [1, 2], present: [] as number[], refused: [] };
    routes({
      'GET /api/v1/releases': () => json(200, { releases: listed }),
      'POST /api/v1/releases/fetch': () => {
        listed = RELEASES.slice(1);
        return json(200, answer);
      },
    });
    go('/deploy');
    render(<App />);
    await screen.findByTestId('releases-empty');
    fireEvent.click(screen.getByTestId('releases-fetch'));
    const result = await screen.findByTestId('releases-fetch-result');
    expect(result.className).toContain('banner-success');
    await screen.findByTestId('releases-table');
    expect(within(result).getByTestId('releases-fetch-fetched').textContent).toBe(
      'Loaded 2 new releases: 1.0.0 (sequence 1), 1.1.0 (sequence 2).',
    );
    expect(screen.queryByTestId('releases-empty')).toBeNull();

    answer = { index_version: 3, fetched: [], present: [1, 2], refused: [] };
    fireEvent.click(screen.getByTestId('releases-fetch'));
    await waitFor(() =>
      expect(screen.getByTestId('releases-fetch-fetched').getAttribute('data-sequences')).toBe(''),
    );
    expect(screen.getByTestId('releases-fetch-fetched').textContent).toContain('No new release');
  });

  it('shows the console refusal in a banner and keeps the list', async () => {
    let reply = apiError(502, 'api_host_unreachable', 'The api host https://127.0.0.1:8801 cannot be reached: connection refused.');
    const m = routes({ 'POST /api/v1/releases/fetch': () => reply });
    go('/deploy');
    render(<App />);
    await screen.findByTestId('releases-table');
    fireEvent.click(screen.getByTestId('releases-fetch'));
    const error = await screen.findByTestId('releases-fetch-error');
    expect(error.getAttribute('role')).toBe('alert');
    expect(error.textContent).toContain('cannot be reached: connection refused');
    expect(screen.queryByTestId('releases-fetch-result')).toBeNull();
    expect(screen.getAllByTestId('release-row')).toHaveLength(3);
    expect(m.callsTo('GET', '/api/v1/releases')).toHaveLength(1);

    // Trying again clears the old error.
    reply = json(200, { index_version: 1, fetched: [], present: [1, 2, 3], refused: [] });
    fireEvent.click(screen.getByTestId('releases-fetch'));
    await screen.findByTestId('releases-fetch-result');
    expect(screen.queryByTestId('releases-fetch-error')).toBeNull();
  });
});

describe('deploy page: live deployment', () => {
  it('polls every second while running, shows steps and progress, and stops once final', async () => {
    const answers = [
      deployment(),
      deployment({
        progress: { done: 2, total: 4 },
        steps: deployment().steps.map((s) =>
          s.index === 1 ? { ...s, progress: { current: 40 * 1024 * 1024, total: 50 * 1024 * 1024 } } : s,
        ),
      }),
      DEPLOYMENT_SUCCEEDED,
    ];
    let reads = 0;
    const m = routes({
      'GET /api/v1/app/deployments/42': () => json(200, answers[Math.min(reads++, answers.length - 1)]),
    });
    go('/deploy?id=42');
    render(<App />);

    const state = await screen.findByTestId('deployment-state');
    expect(state.getAttribute('data-value')).toBe('running');
    expect(state.textContent).toBe('Running');
    expect(screen.getByTestId('deployment').textContent).toContain('Update of 1.2.0 (sequence 3)');
    const progress = screen.getByTestId('deployment-progress');
    expect(progress.getAttribute('data-done')).toBe('1');
    expect(progress.getAttribute('data-total')).toBe('4');
    expect(screen.getByTestId('deployment-progress-text').textContent).toBe('1 of 4 steps · 25 %');

    const steps = screen.getAllByTestId('deployment-step');
    expect(steps.map((s) => [s.getAttribute('data-index'), s.getAttribute('data-action'), s.getAttribute('data-state')])).toEqual([
      ['0', 'network', 'done'],
      ['1', 'pull', 'running'],
      ['2', 'run', 'pending'],
      ['3', 'run', 'pending'],
    ]);
    expect(steps[3].textContent).toContain('db-1');
    expect(steps[3].textContent).toContain('acme-db-1');
    expect(within(steps[1]).getByTestId('step-progress').textContent).toBe('12.0 MiB / 50.0 MiB');
    expect(screen.getAllByTestId('deployment-event').map((e) => e.textContent)).toEqual([
      '2025-06-01 12:00:00 UTCUpdate to 1.2.0 started by admin.',
      '2025-06-01 12:00:01 UTCPulling 2 images.',
    ]);
    const hash = screen.getByTestId('deployment-config-hash');
    expect(hash.textContent).toBe('c0ffee123456');
    expect(hash.getAttribute('title')).toBe(deployment().config_hash);
    expect(screen.queryByTestId('deployment-message')).toBeNull();

    await tick(DEPLOYMENT_POLL_MS);
    await waitFor(() =>
      expect(within(screen.getAllByTestId('deployment-step')[1]).getByTestId('step-progress').textContent).toBe(
        '40.0 MiB / 50.0 MiB',
      ),
    );
    expect(screen.getByTestId('deployment-progress').getAttribute('data-done')).toBe('2');

    const statusReads = m.callsTo('GET', '/api/v1/app/status').length;
    await tick(DEPLOYMENT_POLL_MS);
    await waitFor(() => expect(screen.getByTestId('deployment-state').getAttribute('data-value')).toBe('succeeded'));
    const message = screen.getByTestId('deployment-message');
    expect(message.textContent).toContain('Release 1.2.0 is running and healthy on 2 nodes.');
    expect(message.className).toContain('banner-success');
    // The installed release is read again once the deployment is over.
    await waitFor(() => expect(m.callsTo('GET', '/api/v1/app/status').length).toBeGreaterThan(statusReads));

    const atFinal = m.callsTo('GET', '/api/v1/app/deployments/42').length;
    expect(atFinal).toBe(3);
    await tick(DEPLOYMENT_POLL_MS * 10);
    expect(m.callsTo('GET', '/api/v1/app/deployments/42').length).toBe(atFinal);
  });

  it('keeps following a failed update while its automatic rollback runs', async () => {
    const answers = [
      deployment({ state: 'rolling_back', message: 'web did not become healthy; rolling back.' }),
      deployment({
        state: 'rolled_back',
        finished_at: '2025-06-01T12:08:00Z',
        message: 'web did not become healthy within 120 s; the previous release was restored.',
      }),
    ];
    let reads = 0;
    const m = routes({
      'GET /api/v1/app/deployments/44': () => json(200, answers[Math.min(reads++, answers.length - 1)]),
    });
    go('/deploy?id=44');
    render(<App />);
    const state = await screen.findByTestId('deployment-state');
    expect(state.getAttribute('data-value')).toBe('rolling_back');
    await tick(DEPLOYMENT_POLL_MS);
    await waitFor(() => expect(screen.getByTestId('deployment-state').getAttribute('data-value')).toBe('rolled_back'));
    expect(m.callsTo('GET', '/api/v1/app/deployments/44').length).toBe(2);
    await tick(DEPLOYMENT_POLL_MS * 5);
    expect(m.callsTo('GET', '/api/v1/app/deployments/44').length).toBe(2);
  });

  it('shows a rolled back deployment and why, prominently', async () => {
    routes({
      'GET /api/v1/app/deployments/43': json(
        200,
        deployment({
          id: 43,
          state: 'rolled_back',
          finished_at: '2025-06-01T12:08:00Z',
          message: 'web did not become healthy within 120 s; the previous release was restored.',
          preflight_overridden: true,
        }),
      ),
    });
    go('/deploy?id=43');
    render(<App />);
    const state = await screen.findByTestId('deployment-state');
    expect(state.getAttribute('data-value')).toBe('rolled_back');
    expect(state.textContent).toBe('Rolled back');
    const message = screen.getByTestId('deployment-message');
    expect(message.textContent).toMatch(/failed and the previous release was restored/);
    expect(message.textContent).toContain('web did not become healthy within 120 s');
    expect(message.getAttribute('role')).toBe('alert');
    expect(screen.getByTestId('deployment-overridden')).toBeTruthy();
  });

  it('stops polling when the page is left', async () => {
    const m = routes({ 'GET /api/v1/app/deployments/42': json(200, deployment()) });
    go('/deploy?id=42');
    const view = render(<App />);
    await screen.findByTestId('deployment-state');
    await tick(DEPLOYMENT_POLL_MS);
    await waitFor(() => expect(m.callsTo('GET', '/api/v1/app/deployments/42').length).toBe(2));
    view.unmount();
    await tick(DEPLOYMENT_POLL_MS * 5);
    expect(m.callsTo('GET', '/api/v1/app/deployments/42').length).toBe(2);
  });

  it('follows the running deployment without ?id=, and disables the deploy buttons meanwhile', async () => {
    routes({
      'GET /api/v1/app/status': json(200, { ...APP_RUNNING, state: 'deploying', active_deployment: 42 }),
      'GET /api/v1/app/deployments/42': json(200, deployment()),
    });
    go('/deploy');
    render(<App />);
    expect((await screen.findByTestId('deployment')).getAttribute('data-id')).toBe('42');
    await screen.findByTestId('releases-table');
    expect((screen.getByTestId('deploy-button-3') as HTMLButtonElement).disabled).toBe(true);
  });

  it('says so when the deployment does not exist', async () => {
    routes({
      'GET /api/v1/app/deployments/999': apiError(404, 'deployment_not_found', 'No deployment has the id 999.'),
    });
    go('/deploy?id=999');
    render(<App />);
    expect((await screen.findByTestId('deployment-not-found')).textContent).toContain('No deployment has the id 999.');
  });
});

describe('deployVerb', () => {
  it('names what a release button does relative to the installed release', () => {
    expect(deployVerb(3, null)).toBe('Deploy');
    expect(deployVerb(3, 2)).toBe('Update');
    expect(deployVerb(2, 2)).toBe('Redeploy');
    expect(deployVerb(1, 2)).toBe('Deploy');
  });
});
