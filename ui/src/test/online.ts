// Realistic answers of the online routes (GET /updates, POST /updates/check, GET/PUT
// /settings/outbound, GET /network), shared by the page tests.

export const ADVISORY_HIGH = {
  id: 'OSA-2026-0001',
  severity: 'high',
  title: 'Session fixation in the login form',
  text: 'A crafted link can fix the session id of a user who then logs in.',
  affected: [1],
  fixed_in: 2,
  fixed_in_version: '1.1.0',
  fix_available: true,
  published_at: '2026-03-01T09:00:00Z',
};

export const ADVISORY_LOW_UNFIXED = {
  id: 'OSA-2026-0002',
  severity: 'low',
  title: 'Verbose error page',
  text: 'Stack traces are shown on the 500 page.',
  affected: [1],
  fixed_in: null,
  fixed_in_version: null,
  fix_available: false,
  published_at: '2026-03-02T09:00:00Z',
};

export const CHECK_OK = {
  id: 5,
  started_at: '2026-04-01T12:00:00Z',
  finished_at: '2026-04-01T12:00:01Z',
  trigger: 'schedule',
  outcome: 'ok',
  problem: null,
  error: null,
  summary: 'Index 3: 2 new releases loaded (1.1.0, 1.2.0); 1 advisory.',
};

export const CHECK_FAILED = {
  id: 6,
  started_at: '2026-04-01T13:00:00Z',
  finished_at: '2026-04-01T13:00:10Z',
  trigger: 'retry',
  outcome: 'failed',
  problem: 'unreachable',
  error: 'connecting to https://api.vendor.example: connection timed out after 10 s',
  summary: 'The api host could not be reached.',
};

/** `GET /updates` with an update and an advisory; `overrides` change the top-level fields. */
export function updatesStatus(overrides: Record<string, unknown> = {}) {
  return {
    state: 'update_available',
    message: 'Release 1.2.0 is available (2 newer releases loaded). Deploy it from the Deploy page.',
    airgap: null,
    installed: { sequence: 1, version: '1.0.0' },
    available: [
      {
        sequence: 2,
        version: '1.1.0',
        notes: 'Security fixes.',
        required: false,
        created_at: '2026-03-01T08:00:00Z',
        fixes: ['OSA-2026-0001'],
      },
      {
        sequence: 3,
        version: '1.2.0',
        notes: 'Faster reports.',
        required: true,
        created_at: '2026-03-20T08:00:00Z',
        fixes: [],
      },
    ],
    advisories: [ADVISORY_HIGH],
    license: {
      expires_at: '2035-01-01T00:00:00Z',
      expired: false,
      revoked: null,
      api_host: 'https://api.vendor.example',
    },
    index: {
      version: 3,
      expires_at: '2026-06-01T00:00:00Z',
      accepted_at: '2026-04-01T12:00:01Z',
      expired: false,
    },
    schedule: { setting: 'every 1h', description: 'every 1h', offset_seconds: 1234 },
    next_check_at: '2026-04-01T13:20:34Z',
    failures: 0,
    last_success_at: '2026-04-01T12:00:01Z',
    checks: [CHECK_OK],
    ...overrides,
  };
}

export const UP_TO_DATE = updatesStatus({
  state: 'up_to_date',
  message: 'The installed release 1.2.0 is the newest.',
  installed: { sequence: 3, version: '1.2.0' },
  available: [],
  advisories: [],
});

export const CHECK_FAILED_STATUS = updatesStatus({
  state: 'check_failed',
  message: 'The last 3 update checks failed; the console retries on its own.',
  next_check_at: '2026-04-01T13:05:00Z',
  failures: 3,
  available: [],
  advisories: [],
  checks: [CHECK_FAILED, CHECK_OK],
});

export const LICENSE_REVOKED = updatesStatus({
  state: 'license_revoked',
  message: 'The vendor revoked this license. Contact the vendor for a new one.',
  available: [],
  advisories: [],
  license: {
    expires_at: '2035-01-01T00:00:00Z',
    expired: false,
    revoked: { at: '2026-04-01T10:00:00Z', reason: 'contract ended' },
    api_host: 'https://api.vendor.example',
  },
});

export const OUTBOUND_SETTINGS = {
  update_schedule: 'every 1h',
  schedule_description: 'every 1h',
  airgap_mode: false,
  airgap: null,
  https_proxy: 'http://user:********@proxy.corp:3128/',
  no_proxy: 'internal,.corp',
  effective_proxy: 'http://user:********@proxy.corp:3128/',
  effective_no_proxy: 'internal,.corp',
  proxy_source: 'the console setting',
};

export const NETWORK = {
  airgap: null,
  proxy: 'http://proxy.corp:3128/',
  release: { sequence: 1, version: '1.0.0', installed: true },
  inbound: [
    {
      role: 'console host',
      port: '8800',
      protocol: 'tcp (HTTPS)',
      purpose: 'The admin console and the node agents',
      from: 'admins’ browsers and every node',
      needed_in_airgap: true,
      checks: [{ on: 'console', result: 'ok', detail: 'listening' }],
    },
    {
      role: 'every node',
      port: '9870-9880',
      protocol: 'tcp',
      purpose: 'Outpost’s own traffic between nodes',
      from: 'the other nodes',
      needed_in_airgap: true,
      checks: [
        { on: 'app-1', result: 'ok', detail: 'free' },
        { on: 'db-1', result: 'problem', detail: 'port 9871 is used by sshd (pid 77)' },
      ],
    },
  ],
  outbound: [
    {
      purpose: 'Update checks and license sync',
      host: 'api.vendor.example',
      port: 443,
      protocol: 'https',
      from: 'the console',
      needed_in_airgap: false,
      check: { on: 'console', result: 'ok', detail: 'TLS handshake in 84 ms through the proxy' },
    },
    {
      purpose: 'Image pulls',
      host: 'registry.vendor.example',
      port: 443,
      protocol: 'https',
      from: "every node's Docker engine",
      needed_in_airgap: false,
      check: { on: 'console', result: 'unknown', detail: 'checked from the console only' },
    },
  ],
  engines: [
    {
      node: 'app-1',
      https_proxy: null,
      no_proxy: '',
      check: {
        on: 'app-1',
        result: 'problem',
        detail: "the console goes through the proxy http://proxy:3128/, but this node's Docker engine connects directly",
      },
    },
  ],
  problems: 1,
};

export const NETWORK_AIRGAP = {
  ...NETWORK,
  airgap: 'Airgap mode is on (set by the admin).',
  proxy: null,
  outbound: [],
  problems: 0,
};
