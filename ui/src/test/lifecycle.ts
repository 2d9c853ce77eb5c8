// Realistic answers of the app lifecycle routes (docs/API.md, "App lifecycle"), shared by the page tests.

const MiB = 1024 * 1024;

function release(sequence: number, version: string, extra: Record<string, unknown> = {}) {
  return {
    sequence,
    version,
    channel: 'stable',
    notes: '',
    required: false,
    created_at: `2025-0${sequence}-01T00:00:00Z`,
    digest: `sha256:${String(sequence).repeat(8)}`,
    source: 'file',
    loaded_at: `2025-0${sequence}-02T08:00:00Z`,
    images: [],
    ...extra,
  };
}

/** Newest first, as `GET /releases` answers. */
export const RELEASES = [
  release(3, '1.2.0', { notes: 'Faster reports.\nNew audit export.' }),
  release(2, '1.1.0', { required: true, notes: 'Security fixes.' }),
  release(1, '1.0.0'),
];

export const PREFLIGHT_BLOCKING = {
  sequence: 3,
  version: '1.2.0',
  outcome: 'fail',
  blocking: true,
  ran_at: '2025-06-01T11:59:00Z',
  results: [
    { check: 'node_count', node: null, node_name: '', outcome: 'pass', message: '2 nodes; the license allows 3.' },
    {
      check: 'port_443_free',
      node: 'node-b',
      node_name: 'db-1',
      outcome: 'fail',
      message: 'Port 443 is in use by nginx (pid 812). Stop it or change the app port.',
    },
    {
      check: 'docker_disk',
      node: 'node-a',
      node_name: 'app-1',
      outcome: 'warn',
      message: 'Only 6.0 GiB free under /var/lib/docker; 10 GiB recommended. Free some space.',
    },
    { check: 'docker', node: 'node-a', node_name: 'app-1', outcome: 'pass', message: 'Docker 27.3.1.' },
    { check: 'clock_skew', node: null, node_name: '', outcome: 'warn', message: 'db-1 is 3 s ahead; check NTP.' },
  ],
};

export const PREFLIGHT_PASS = {
  sequence: 3,
  version: '1.2.0',
  outcome: 'pass',
  blocking: false,
  ran_at: '2025-06-01T11:59:30Z',
  results: [
    { check: 'node_count', node: null, node_name: '', outcome: 'pass', message: '2 nodes; the license allows 3.' },
    { check: 'docker', node: 'node-a', node_name: 'app-1', outcome: 'pass', message: 'Docker 27.3.1.' },
  ],
};

function step(index: number, fields: Record<string, unknown>) {
  return {
    index,
    node: 'node-a',
    node_name: 'app-1',
    action: 'run',
    target: 'acme-web-1',
    service: 'web',
    state: 'pending',
    message: null,
    progress: null,
    started_at: null,
    finished_at: null,
    ...fields,
  };
}

/** A deployment as `GET /app/deployments/{id}` answers it; `overrides` change the top-level fields. */
export function deployment(overrides: Record<string, unknown> = {}) {
  return {
    id: 42,
    kind: 'update',
    sequence: 3,
    version: '1.2.0',
    previous_sequence: 2,
    config_hash: 'c0ffee1234567890abcdef1234567890abcdef1234567890abcdef1234567890',
    actor: 'admin',
    started_at: '2025-06-01T12:00:00Z',
    finished_at: null,
    state: 'running',
    message: null,
    preflight_overridden: false,
    rollback_of: null,
    progress: { done: 1, total: 4 },
    steps: [
      step(0, { action: 'network', target: 'acme-net', service: null, state: 'done' }),
      step(1, {
        action: 'pull',
        target: 'registry.vendor.example/acme/web@sha256:ab12',
        state: 'running',
        progress: { current: 12 * MiB, total: 50 * MiB },
      }),
      step(2, { action: 'run', target: 'acme-web-1' }),
      step(3, { node: 'node-b', node_name: 'db-1', action: 'run', target: 'acme-db-1', service: 'db' }),
    ],
    events: [
      { at: '2025-06-01T12:00:00Z', message: 'Update to 1.2.0 started by admin.' },
      { at: '2025-06-01T12:00:01Z', message: 'Pulling 2 images.' },
    ],
    ...overrides,
  };
}

export const DEPLOYMENT_SUCCEEDED = deployment({
  state: 'succeeded',
  finished_at: '2025-06-01T12:01:00Z',
  progress: { done: 4, total: 4 },
  message: 'Release 1.2.0 is running and healthy on 2 nodes.',
});

/** The history: newest first, without steps and events. */
export const HISTORY = {
  active: null,
  deployments: [
    {
      ...deployment({
        id: 44,
        kind: 'rollback',
        sequence: 2,
        version: '1.1.0',
        previous_sequence: 3,
        rollback_of: 43,
        state: 'succeeded',
        finished_at: '2025-06-01T12:10:00Z',
        config_hash: 'aaaa1111bbbb2222cccc3333dddd4444',
        actor: 'system',
        progress: { done: 3, total: 3 },
        message: 'Restored 1.1.0 after the failed update.',
      }),
      steps: [],
      events: [],
    },
    {
      ...deployment({
        id: 43,
        state: 'rolled_back',
        finished_at: '2025-06-01T12:08:00Z',
        message: 'web did not become healthy within 120 s; the previous release was restored.',
      }),
      steps: [],
      events: [],
    },
    {
      ...deployment({
        id: 41,
        kind: 'update',
        sequence: 2,
        version: '1.1.0',
        previous_sequence: 1,
        state: 'succeeded',
        finished_at: '2025-05-20T10:05:00Z',
        started_at: '2025-05-20T10:00:00Z',
        config_hash: 'bbbb2222cccc3333dddd4444eeee5555',
        message: null,
      }),
      steps: [],
      events: [],
    },
    {
      ...deployment({
        id: 40,
        kind: 'deploy',
        sequence: 1,
        version: '1.0.0',
        previous_sequence: null,
        state: 'succeeded',
        started_at: '2025-05-01T10:00:00Z',
        finished_at: '2025-05-01T10:04:00Z',
        config_hash: 'dddd4444eeee5555ffff6666aaaa7777',
        preflight_overridden: true,
      }),
      steps: [],
      events: [],
    },
    {
      ...deployment({
        id: 39,
        kind: 'deploy',
        sequence: 1,
        version: '1.0.0',
        previous_sequence: null,
        state: 'failed',
        started_at: '2025-04-30T10:00:00Z',
        finished_at: '2025-04-30T10:01:00Z',
        message: 'Pulling acme/web failed: unauthorized. Check the registry credentials.',
      }),
      steps: [],
      events: [],
    },
  ],
};

export const APP_RUNNING = {
  app_id: 'acme-app',
  state: 'running',
  installed: { sequence: 2, version: '1.1.0', deployment_id: 44, config_hash: 'aaaa1111bbbb2222cccc3333dddd4444' },
  active_deployment: null,
  services: [
    {
      service: 'web',
      state: 'running',
      replicas: [
        {
          replica: 1,
          node: 'node-a',
          node_name: 'app-1',
          container: 'acme-web-1',
          state: 'running',
          health: 'healthy',
          restarts: 0,
          started_at: '2025-06-01T11:00:00Z',
          image: 'registry.vendor.example/acme/web@sha256:ab12',
        },
        {
          replica: 2,
          node: 'node-b',
          node_name: 'db-1',
          container: 'acme-web-2',
          state: 'running',
          health: 'starting',
          restarts: 2,
          started_at: '2025-06-01T11:58:00Z',
          image: 'registry.vendor.example/acme/web@sha256:ab12',
        },
      ],
    },
    {
      service: 'db',
      state: 'degraded',
      replicas: [
        {
          replica: 1,
          node: 'node-b',
          node_name: 'db-1',
          container: 'acme-db-1',
          state: 'exited',
          health: null,
          restarts: 5,
          started_at: null,
          image: 'postgres:16',
        },
      ],
    },
  ],
  unreachable: [],
};

export const REGISTRIES = {
  rules: [
    { from: 'docker.io', to: 'mirror.example.internal' },
    { from: 'quay.io/acme', to: 'mirror.example.internal/acme' },
  ],
  credentials: [
    { host: 'mirror.example.internal', username: 'puller', password_set: true, source: 'admin' },
    { host: 'registry.vendor.example', username: 'acme-pull', password_set: true, source: 'license' },
  ],
};
