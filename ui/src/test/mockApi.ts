// fetch mock for tests: routes keyed by "METHOD /api/v1/path" (query ignored for matching).
import { vi } from 'vitest';

export interface Call {
  method: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  init: RequestInit;
}

/** `raw` is sent as the body as is (e.g. an ndjson stream); else `body` is sent as JSON. */
export type Reply =
  | { status?: number; body?: unknown; raw?: BodyInit; headers?: Record<string, string> }
  | Error;
export type Route = Reply | ((call: Call) => Reply | Promise<Reply>);

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, body, headers };
}

export function apiError(status: number, code: string, message: string, headers: Record<string, string> = {}): Reply {
  return { status, body: { error: { code, message } }, headers };
}

export function mockApi(routes: Record<string, Route>) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init.method ?? 'GET').toUpperCase();
    const path = new URL(url, 'https://console.test').pathname;
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    const call: Call = { method, url, path, headers, body, init };
    calls.push(call);

    if (init.signal?.aborted) throw new DOMException('Aborted', 'AbortError');
    const route = routes[`${method} ${path}`];
    const reply = typeof route === 'function' ? await route(call) : route;
    if (reply === undefined) {
      return new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'Log in first.' } }), {
        status: 401,
        headers: { 'Content-Type': 'application/json' },
      });
    }
    if (reply instanceof Error) throw reply;
    const status = reply.status ?? 200;
    if (reply.raw !== undefined) {
      return new Response(reply.raw, { status, headers: reply.headers ?? {} });
    }
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status,
      headers: { 'Content-Type': 'application/json', ...(reply.headers ?? {}) },
    });
  });
  vi.stubGlobal('fetch', fetchMock);
  return {
    calls,
    fetchMock,
    callsTo(method: string, path: string): Call[] {
      return calls.filter((c) => c.method === method && c.path === path);
    },
  };
}

export const SESSION = { username: 'admin', csrf_token: 'csrf-abc123', expires_at: '2030-01-01T00:00:00Z' };

export const TLS = {
  subject: 'CN=outpost.example.internal',
  issuer: 'CN=outpost.example.internal',
  fingerprint_sha256: 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89',
  not_before: '2025-01-01T00:00:00Z',
  not_after: '2035-01-01T00:00:00Z',
  self_signed: true,
  dns_names: ['outpost.example.internal', 'localhost'],
  ip_addresses: ['127.0.0.1'],
};

export const STATUS = {
  version: '0.1.0',
  uptime_seconds: 3 * 86400 + 4 * 3600 + 5 * 60 + 6,
  started_at: '2025-06-01T08:00:00Z',
  tls: TLS,
};

export const HEALTH = { status: 'ok', version: '0.1.0', uptime_seconds: 12 };

export const VENDOR_FINGERPRINT = '3f9a0c12d4e5b6a7980112233445566778899aabbccddeeff00112233445566a';
export const OTHER_FINGERPRINT = '0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff';

export const LICENSE = {
  license_id: 'lic-2025-0042',
  customer: 'Acme Industries',
  app_id: 'acme-app',
  channel: 'stable',
  issued_at: '2025-01-01T00:00:00Z',
  expires_at: '2035-01-01T00:00:00Z',
  entitlements: { seats: '25', feature_reports: 'enabled' },
  airgap: true,
  max_nodes: 3,
  api_host: 'https://license.vendor.example',
  registry_username: 'acme-pull',
  vendor_key_fingerprint: VENDOR_FINGERPRINT,
  loaded_at: '2025-06-01T08:00:00Z',
};

export const INSPECT_CLAIMS = {
  license_id: LICENSE.license_id,
  customer: LICENSE.customer,
  app_id: LICENSE.app_id,
  channel: LICENSE.channel,
  expires_at: LICENSE.expires_at,
};

/** `GET /app/status` before anything is deployed (the dashboard's application card reads it). */
export const APP_NOT_DEPLOYED = {
  app_id: 'acme-app',
  state: 'not_deployed',
  installed: null,
  active_deployment: null,
  services: [],
  unreachable: [],
};

/**
 * An `application/x-ndjson` answer the test writes to line by line: `push` sends text as is,
 * `line` one JSON line, `close` ends it; `cancelled` turns true when the reader gave up (abort).
 */
export function ndjsonStream() {
  const encoder = new TextEncoder();
  let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  let closed = false;
  const state = { cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return {
    reply: { status: 200, raw: body, headers: { 'Content-Type': 'application/x-ndjson' } } as Reply,
    push(text: string) {
      if (!closed && !state.cancelled) controller?.enqueue(encoder.encode(text));
    },
    line(value: unknown) {
      this.push(`${JSON.stringify(value)}\n`);
    },
    close() {
      if (!closed && !state.cancelled) controller?.close();
      closed = true;
    },
    get cancelled() {
      return state.cancelled;
    },
  };
}
