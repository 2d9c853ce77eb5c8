import { describe, expect, it, vi } from 'vitest';
import { api, ApiError, getCsrfToken, request, setCsrfToken, setUnauthorizedHandler, toNodeInfo } from './api';
import { apiError, json, mockApi, SESSION, TLS } from './test/mockApi';

describe('api client', () => {
  it('turns a JSON error body into an ApiError carrying the server message and code', async () => {
    mockApi({ 'POST /api/v1/login': apiError(401, 'invalid_credentials', 'The password is not correct.') });
    const err = await api.login('wrong password').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(401);
    expect((err as ApiError).code).toBe('invalid_credentials');
    expect((err as ApiError).message).toBe('The password is not correct.');
  });

  it('reads Retry-After on 429', async () => {
    mockApi({
      'POST /api/v1/login': apiError(429, 'rate_limited', 'Too many failed logins.', { 'Retry-After': '42' }),
    });
    const err = (await api.login('x').catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(429);
    expect(err.retryAfter).toBe(42);
    expect(err.message).toBe('Too many failed logins.');
  });

  it('falls back to a readable message when the error body is not the API shape', async () => {
    mockApi({ 'GET /api/v1/status': { status: 502, body: 'Bad gateway' } });
    const err = (await api.status().catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(502);
    expect(err.code).toBe('http_502');
    expect(err.message).toMatch(/HTTP 502/);
  });

  it('reports an unreachable console as status 0', async () => {
    mockApi({ 'GET /api/v1/status': new TypeError('Failed to fetch') });
    const err = (await api.status().catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(0);
    expect(err.code).toBe('network');
    expect(err.message).toMatch(/could not be reached/);
  });

  it('adds X-CSRF-Token to mutating requests only, after login stored the token', async () => {
    const m = mockApi({
      'POST /api/v1/login': json(200, SESSION),
      'GET /api/v1/tls': json(200, TLS),
      'PUT /api/v1/tls': json(200, TLS),
      'POST /api/v1/logout': json(200, { ok: true }),
    });
    await api.login('correct horse battery');
    expect(m.callsTo('POST', '/api/v1/login')[0].headers['x-csrf-token']).toBeUndefined();
    expect(getCsrfToken()).toBe('csrf-abc123');

    await api.tls();
    expect(m.callsTo('GET', '/api/v1/tls')[0].headers['x-csrf-token']).toBeUndefined();

    await api.uploadTls('CERT', 'KEY');
    const put = m.callsTo('PUT', '/api/v1/tls')[0];
    expect(put.headers['x-csrf-token']).toBe('csrf-abc123');
    expect(put.headers['content-type']).toBe('application/json');
    expect(put.body).toEqual({ certificate_pem: 'CERT', private_key_pem: 'KEY' });
    expect(put.init.credentials).toBe('same-origin');

    await api.logout();
    expect(m.callsTo('POST', '/api/v1/logout')[0].headers['x-csrf-token']).toBe('csrf-abc123');
    expect(getCsrfToken()).toBeNull();
  });

  it('sends JSON with Content-Type and same-origin credentials', async () => {
    const m = mockApi({ 'POST /api/v1/setup': json(200, { ok: true }) });
    await api.setup('tok en', 'a long enough password');
    const call = m.calls[0];
    expect(call.url).toBe('/api/v1/setup');
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.init.credentials).toBe('same-origin');
    expect(call.body).toEqual({ token: 'tok en', password: 'a long enough password' });
  });

  it('GET requests carry no body and no Content-Type', async () => {
    setCsrfToken('t');
    const m = mockApi({ 'GET /api/v1/setup': json(200, { admin_configured: false, token_valid: true }) });
    await api.setupState('a/b?c');
    expect(m.calls[0].url).toBe('/api/v1/setup?token=a%2Fb%3Fc');
    expect(m.calls[0].headers['content-type']).toBeUndefined();
    expect(m.calls[0].headers['x-csrf-token']).toBeUndefined();
    expect(m.calls[0].init.body).toBeUndefined();
  });

  it('calls the unauthorized handler on 401 from a session route, not from public routes', async () => {
    const handler = vi.fn();
    setUnauthorizedHandler(handler);
    setCsrfToken('stale');
    mockApi({
      'GET /api/v1/status': apiError(401, 'unauthorized', 'Log in first.'),
      'POST /api/v1/login': apiError(401, 'invalid_credentials', 'The password is not correct.'),
    });
    await expect(api.login('nope')).rejects.toThrow('The password is not correct.');
    expect(handler).not.toHaveBeenCalled();

    await expect(api.status()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect(handler).toHaveBeenCalledTimes(1);
    expect(getCsrfToken()).toBeNull();
  });

  it('session() answers null on 401 and stores the token otherwise', async () => {
    const handler = vi.fn();
    setUnauthorizedHandler(handler);
    mockApi({ 'GET /api/v1/session': apiError(401, 'unauthorized', 'Log in first.') });
    expect(await api.session()).toBeNull();
    expect(handler).not.toHaveBeenCalled();

    mockApi({ 'GET /api/v1/session': json(200, SESSION) });
    expect(await api.session()).toEqual(SESSION);
    expect(getCsrfToken()).toBe(SESSION.csrf_token);
  });

  it('builds the audit query from limit and before', async () => {
    const m = mockApi({ 'GET /api/v1/audit': json(200, { entries: [], next_before: null }) });
    await api.audit({ limit: 50, before: 17 });
    await api.audit({ limit: 50, before: null });
    expect(m.calls.map((c) => c.url)).toEqual(['/api/v1/audit?limit=50&before=17', '/api/v1/audit?limit=50']);
  });

  it('rejects a 200 answer that is not JSON', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>', { status: 200 })));
    await expect(request('GET', '/status')).rejects.toMatchObject({ code: 'bad_response' });
  });

  it('node routes: paths, bodies and CSRF', async () => {
    setCsrfToken(SESSION.csrf_token);
    const node = { id: 'node-a/b', hostname: 'h', labels: { a: '1' }, status: 'online' };
    const m = mockApi({
      'GET /api/v1/nodes': json(200, { nodes: [node] }),
      'PUT /api/v1/nodes/node-a%2Fb/labels': json(200, node),
      'DELETE /api/v1/nodes/node-a%2Fb': json(200, { ok: true }),
      'POST /api/v1/nodes/join-token': json(200, { token: 'OPT1.x.y', command: 'outpost-agent join', expires_at: 'T' }),
    });
    expect((await api.nodes()).map((n) => n.id)).toEqual(['node-a/b']);
    await api.setNodeLabels('node-a/b', { a: '2' });
    await api.removeNode('node-a/b');
    expect(await api.createJoinToken('15m', {})).toEqual({ token: 'OPT1.x.y', command: 'outpost-agent join', expires_at: 'T' });
    expect(m.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET /api/v1/nodes',
      'PUT /api/v1/nodes/node-a%2Fb/labels',
      'DELETE /api/v1/nodes/node-a%2Fb',
      'POST /api/v1/nodes/join-token',
    ]);
    expect(m.calls[1].body).toEqual({ labels: { a: '2' } });
    expect(m.calls[3].body).toEqual({ ttl: '15m', labels: {} });
    for (const call of m.calls.slice(1)) expect(call.headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect(m.calls[0].headers['x-csrf-token']).toBeUndefined();
  });

  it('copies node answers field by field with safe defaults', () => {
    expect(toNodeInfo({ id: 'n1', status: 'weird', facts: null, clock_skew_ms: 'x', extra: 'dropped' })).toEqual({
      id: 'n1',
      hostname: '',
      labels: {},
      status: 'offline',
      joined_at: '',
      last_seen_at: null,
      cert_expires_at: '',
      clock_skew_ms: null,
      facts: null,
    });
    const info = toNodeInfo({
      id: 'n2',
      status: 'online',
      facts: { os: 'Debian', cpus: 2, disks: [{ role: 'docker', free_bytes: 5 }], docker: null, addresses: ['10.0.0.1', 7] },
    });
    expect(info.facts).toEqual({
      hostname: '',
      os: 'Debian',
      kernel: '',
      cpus: 2,
      memory_bytes: 0,
      disks: [{ role: 'docker', path: '', free_bytes: 5, total_bytes: 0 }],
      docker: null,
      addresses: ['10.0.0.1'],
    });
  });
});
