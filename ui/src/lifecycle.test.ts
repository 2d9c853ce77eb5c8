import { describe, expect, it } from 'vitest';
import {
  api,
  ApiError,
  followLogs,
  sameId,
  setCsrfToken,
  toAppStatus,
  toDeployment,
  toPreflightReport,
  toRegistries,
  type LogLine,
} from './api';
import {
  deploymentHref,
  formatByteProgress,
  groupPreflight,
  isFinalState,
  logsHref,
  percent,
  shortHash,
} from './lifecycle';
import { deployment, PREFLIGHT_BLOCKING, REGISTRIES } from './test/lifecycle';
import { apiError, json, mockApi, ndjsonStream, SESSION } from './test/mockApi';

describe('lifecycle helpers', () => {
  it('shortens config hashes to 12 characters', () => {
    expect(shortHash('c0ffee1234567890abcdef')).toBe('c0ffee123456');
    expect(shortHash('abc')).toBe('abc');
  });

  it('formats pull progress and percentages', () => {
    expect(formatByteProgress({ current: 12 * 1024 * 1024, total: 50 * 1024 * 1024 })).toBe('12.0 MiB / 50.0 MiB');
    expect(formatByteProgress({ current: 512, total: 0 })).toBe('512 B');
    expect(percent(1, 4)).toBe(25);
    expect(percent(0, 0)).toBe(0);
    expect(percent(5, 4)).toBe(100);
  });

  it('knows which deployment states are final', () => {
    expect(isFinalState('running')).toBe(false);
    for (const state of ['succeeded', 'failed', 'rolled_back', 'interrupted'] as const) {
      expect(isFinalState(state)).toBe(true);
    }
  });

  it('builds page addresses', () => {
    expect(deploymentHref(42)).toBe('/deploy?id=42');
    expect(deploymentHref('a b')).toBe('/deploy?id=a%20b');
    expect(logsHref('web', '2')).toBe('/logs?service=web&replica=2');
    expect(logsHref('we&b', '1')).toBe('/logs?service=we%26b&replica=1');
  });

  it('groups preflight results cluster-wide first, then per node by name, failures first', () => {
    const groups = groupPreflight(toPreflightReport(PREFLIGHT_BLOCKING).results);
    expect(groups.map((g) => [g.node, g.title, g.results.map((r) => r.check)])).toEqual([
      [null, 'Cluster-wide', ['clock_skew', 'node_count']],
      ['node-a', 'app-1', ['docker_disk', 'docker']],
      ['node-b', 'db-1', ['port_443_free']],
    ]);
  });
});

describe('lifecycle answers', () => {
  it('keeps deployment ids as the console sends them and compares them as text', () => {
    expect(toDeployment(deployment()).id).toBe(42);
    expect(toDeployment(deployment({ id: 'dep-7', rollback_of: 'dep-6' })).rollback_of).toBe('dep-6');
    expect(sameId(42, '42')).toBe(true);
    expect(sameId(42, 43)).toBe(false);
    expect(sameId(null, null)).toBe(false);
  });

  it('treats an unknown deployment state as final, so nothing polls it forever', () => {
    expect(toDeployment(deployment({ state: 'exploded' })).state).toBe('interrupted');
  });

  it('copies app status fields with safe defaults', () => {
    const status = toAppStatus({ state: 'running', services: [{ service: 'web', replicas: [{ replica: 1 }] }] });
    expect(status.installed).toBeNull();
    expect(status.active_deployment).toBeNull();
    expect(status.services[0].replicas[0]).toMatchObject({ replica: '1', health: null, restarts: 0, started_at: null });
  });

  it('never copies a registry password, even if the console sent one', () => {
    const registries = toRegistries({
      ...REGISTRIES,
      credentials: REGISTRIES.credentials.map((c) => ({ ...c, password: 'oops' })),
    });
    expect(JSON.stringify(registries)).not.toContain('oops');
    expect(registries.credentials.map((c) => c.source)).toEqual(['admin', 'license']);
  });
});

describe('lifecycle routes', () => {
  it('sends the mutating requests with the CSRF token and the documented bodies', async () => {
    setCsrfToken(SESSION.csrf_token);
    const m = mockApi({
      'POST /api/v1/app/deploy': json(202, deployment()),
      'POST /api/v1/app/rollback': json(202, deployment({ id: 43 })),
      'POST /api/v1/app/restart': json(200, { state: 'running', services: [] }),
      'PUT /api/v1/registries': json(200, REGISTRIES),
    });
    await api.deploy(3, false);
    await api.rollback(40);
    await api.restartApp();
    await api.saveRegistries({ rules: [], credentials: [{ host: 'h', username: 'u', password: null }] });
    expect(m.calls.map((c) => [c.method, c.path, c.body, c.headers['x-csrf-token']])).toEqual([
      ['POST', '/api/v1/app/deploy', { sequence: 3, override_preflight: false }, SESSION.csrf_token],
      ['POST', '/api/v1/app/rollback', { deployment_id: 40 }, SESSION.csrf_token],
      ['POST', '/api/v1/app/restart', {}, SESSION.csrf_token],
      [
        'PUT',
        '/api/v1/registries',
        { rules: [], credentials: [{ host: 'h', username: 'u', password: null }] },
        SESSION.csrf_token,
      ],
    ]);
  });

  it('follows an ndjson log stream across chunk boundaries, skipping broken lines', async () => {
    const stream = ndjsonStream();
    mockApi({ 'GET /api/v1/app/logs': stream.reply });
    const lines: LogLine[] = [];
    const done = followLogs({ service: 'web', replica: '1', tail: 10 }, (l) => lines.push(l));
    stream.push('{"stream":"stdout","line":"a"}\n{"stream":"std');
    stream.push('err","line":"b"}\nnot json\n\n{"line":"c"}');
    stream.close();
    await done;
    expect(lines).toEqual([
      { stream: 'stdout', line: 'a' },
      { stream: 'stderr', line: 'b' },
      { stream: 'stdout', line: 'c' },
    ]);
  });

  it('stops calling back once aborted and rejects with an AbortError', async () => {
    const stream = ndjsonStream();
    mockApi({ 'GET /api/v1/app/logs': stream.reply });
    const controller = new AbortController();
    const lines: string[] = [];
    const done = followLogs({ service: 'web', replica: '1' }, (l) => lines.push(l.line), controller.signal);
    stream.line({ stream: 'stdout', line: 'one' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    stream.line({ stream: 'stdout', line: 'two' });
    const error = await done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('AbortError');
    expect(lines).toEqual(['one']);
    expect(stream.cancelled).toBe(true);
  });

  it('turns a refused stream into an ApiError with the console message', async () => {
    mockApi({ 'GET /api/v1/app/logs': apiError(404, 'replica_not_found', 'web has no replica 9.') });
    const error = await followLogs({ service: 'web', replica: '9' }, () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('replica_not_found');
    expect((error as ApiError).message).toBe('web has no replica 9.');
  });
});
