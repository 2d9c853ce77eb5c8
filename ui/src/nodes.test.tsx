import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { NODES_REFRESH_MS } from './pages/NodesPage';
import { apiError, APP_NOT_DEPLOYED, HEALTH, json, LICENSE, mockApi, SESSION, STATUS, type Route } from './test/mockApi';

const NOW = new Date('2025-06-01T12:00:00Z');
const GiB = 1024 ** 3;

const NODE_A = {
  id: 'node-1a2b3c4d5e6f',
  hostname: 'app-1',
  labels: { role: 'web', region: 'eu' },
  status: 'online',
  joined_at: '2025-05-01T10:00:00Z',
  last_seen_at: '2025-06-01T11:59:57Z',
  cert_expires_at: '2025-06-02T00:30:00Z',
  clock_skew_ms: 120,
  facts: {
    hostname: 'app-1',
    os: 'Ubuntu 24.04 LTS',
    kernel: '6.8.0-45-generic',
    cpus: 4,
    memory_bytes: 16 * GiB,
    disks: [
      { role: 'docker', path: '/var/lib/docker', free_bytes: 40 * GiB, total_bytes: 100 * GiB },
      { role: 'data', path: '/var/lib/outpost', free_bytes: 2 * GiB, total_bytes: 50 * GiB },
    ],
    docker: { version: '27.3.1', api_version: '1.47', storage_driver: 'overlay2' },
    addresses: ['10.0.0.11', '192.168.1.11', 'fd00::11', 'fe80::1'],
  },
};

const NODE_B = {
  id: 'node-9f8e7d6c5b4a',
  hostname: 'db-1',
  labels: {},
  status: 'offline',
  joined_at: '2025-05-02T10:00:00Z',
  last_seen_at: '2025-06-01T11:40:00Z',
  cert_expires_at: '2025-06-01T06:00:00Z',
  clock_skew_ms: -3500,
  facts: { ...NODE_A.facts, hostname: 'db-1', cpus: 1, docker: null, addresses: ['10.0.0.12'] },
};

const NODE_C = {
  id: 'node-000000000003',
  hostname: 'new-1',
  labels: { region: 'us' },
  status: 'offline',
  joined_at: '2025-06-01T11:59:00Z',
  last_seen_at: null,
  cert_expires_at: '2025-06-02T11:59:00Z',
  clock_skew_ms: null,
  facts: null,
};

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route>) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/app/status': json(200, APP_NOT_DEPLOYED),
    ...extra,
  });
}

async function openNodes() {
  go('/nodes');
  const view = render(<App />);
  await screen.findByTestId('nodes-page');
  return view;
}

function row(id: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(`[data-testid="node-row"][data-node-id="${id}"]`);
  if (!el) throw new Error(`no row for ${id}`);
  return el;
}

function type(el: HTMLElement, value: string) {
  fireEvent.change(el, { target: { value } });
}

beforeEach(() => {
  vi.useFakeTimers({ shouldAdvanceTime: true, now: NOW });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('nodes page: table', () => {
  it('shows each node with its facts and status', async () => {
    routes({ 'GET /api/v1/nodes': json(200, { nodes: [NODE_B, NODE_C, NODE_A] }) });
    await openNodes();
    const table = await screen.findByTestId('nodes-table');
    const rows = within(table).getAllByTestId('node-row');
    // Sorted by host name.
    expect(rows.map((r) => r.getAttribute('data-node-id'))).toEqual([NODE_A.id, NODE_B.id, NODE_C.id]);
    expect(screen.getByTestId('nodes-summary').textContent).toMatch(/1 of 3 online/);

    const a = within(row(NODE_A.id));
    expect(a.getByTestId('node-hostname').textContent).toBe('app-1');
    expect(a.getByTestId('node-id').textContent).toBe(NODE_A.id);
    const statusA = a.getByTestId('node-status');
    expect(statusA.textContent).toBe('online');
    expect(statusA.className).toContain('badge-ok');
    expect(a.getAllByTestId('node-label').map((l) => l.textContent)).toEqual(['region=eu', 'role=web']);
    expect(a.getByTestId('node-os').textContent).toBe('Ubuntu 24.04 LTS · 6.8.0-45-generic');
    expect(a.getByTestId('node-cpus').textContent).toBe('4 CPUs');
    expect(a.getByTestId('node-memory').textContent).toBe('16.0 GiB');
    expect(a.getByTestId('node-docker').textContent).toBe('Docker 27.3.1');
    const disks = a.getAllByTestId('node-disk');
    expect(disks.map((d) => [d.getAttribute('data-role'), d.textContent])).toEqual([
      ['docker', 'docker 40.0 GiB'],
      ['data', 'data 2.0 GiB'],
    ]);
    // Under 10 % free is marked.
    expect(disks[1].querySelector('.badge-warn')).not.toBeNull();
    expect(a.getByTestId('node-addresses').textContent).toBe('10.0.0.11, 192.168.1.11, fd00::11 +1 more');
    expect(a.getByTestId('node-last-seen').textContent).toBe('3 s ago');
    expect(a.getByTestId('node-last-seen').getAttribute('data-value')).toBe(NODE_A.last_seen_at);
    expect(a.getByTestId('node-skew').textContent).toBe('+0.1 s');
    expect(a.getByTestId('node-skew').getAttribute('data-warn')).toBe('false');
    expect(a.getByTestId('node-cert-expiry').textContent).toBe('expires in 12 h');
    expect(a.getByTestId('node-cert-expiry').getAttribute('data-value')).toBe(NODE_A.cert_expires_at);

    const b = within(row(NODE_B.id));
    const statusB = b.getByTestId('node-status');
    expect(statusB.textContent).toBe('offline');
    expect(statusB.className).toContain('badge-neutral');
    expect(b.getByTestId('node-labels').textContent).toBe('None');
    expect(b.getByTestId('node-cpus').textContent).toBe('1 CPU');
    expect(b.getByTestId('node-docker').textContent).toBe('No Docker');
    expect(b.getByTestId('node-last-seen').textContent).toBe('20 min ago');
    const skewB = b.getByTestId('node-skew');
    expect(skewB.textContent).toBe('-3.5 s');
    expect(skewB.getAttribute('data-warn')).toBe('true');
    expect(skewB.className).toContain('badge-warn');
    expect(skewB.getAttribute('title')).toMatch(/more than 2 s/);
    expect(b.getByTestId('node-cert-expiry').textContent).toBe('expired');

    const c = within(row(NODE_C.id));
    expect(c.getByTestId('node-last-seen').textContent).toBe('never connected');
    expect(c.getByTestId('node-no-facts').textContent).toMatch(/Not reported yet/);
    expect(c.queryByTestId('node-skew')).toBeNull();
  });

  it('expands a row into the full facts', async () => {
    routes({ 'GET /api/v1/nodes': json(200, { nodes: [NODE_A] }) });
    await openNodes();
    await screen.findByTestId('nodes-table');
    expect(screen.queryByTestId('node-details')).toBeNull();
    const toggle = within(row(NODE_A.id)).getByTestId('node-details-toggle');
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(toggle);
    const details = screen.getByTestId('node-details');
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(details.getAttribute('data-node-id')).toBe(NODE_A.id);
    expect(details.textContent).toContain('/var/lib/docker: 40.0 GiB free of 100.0 GiB');
    expect(details.textContent).toContain('overlay2');
    expect(details.textContent).toContain('fe80::1');
    expect(details.textContent).toContain('2025-06-02 00:30:00 UTC');
    fireEvent.click(toggle);
    expect(screen.queryByTestId('node-details')).toBeNull();
  });

  it('re-reads the list every 3 s, shows status changes, and stops when the page is left', async () => {
    let status = 'online';
    const m = routes({ 'GET /api/v1/nodes': () => json(200, { nodes: [{ ...NODE_A, status }] }) });
    const view = await openNodes();
    await waitFor(() => expect(within(row(NODE_A.id)).getByTestId('node-status').textContent).toBe('online'));
    const first = m.callsTo('GET', '/api/v1/nodes').length;

    status = 'offline';
    await act(async () => {
      await vi.advanceTimersByTimeAsync(NODES_REFRESH_MS);
    });
    await waitFor(() => expect(within(row(NODE_A.id)).getByTestId('node-status').textContent).toBe('offline'));
    expect(within(row(NODE_A.id)).getByTestId('node-status').className).toContain('badge-neutral');
    expect(m.callsTo('GET', '/api/v1/nodes').length).toBe(first + 1);

    status = 'online';
    await act(async () => {
      await vi.advanceTimersByTimeAsync(NODES_REFRESH_MS);
    });
    await waitFor(() => expect(within(row(NODE_A.id)).getByTestId('node-status').textContent).toBe('online'));

    view.unmount();
    const atUnmount = m.callsTo('GET', '/api/v1/nodes').length;
    await act(async () => {
      await vi.advanceTimersByTimeAsync(NODES_REFRESH_MS * 4);
    });
    expect(m.callsTo('GET', '/api/v1/nodes').length).toBe(atUnmount);
  });

  it('keeps the last list and says so when a refresh fails', async () => {
    let fail = false;
    routes({
      'GET /api/v1/nodes': () =>
        fail ? apiError(500, 'internal', 'The console failed to read the nodes.') : json(200, { nodes: [NODE_A] }),
    });
    await openNodes();
    await screen.findByTestId('nodes-table');
    fail = true;
    await act(async () => {
      await vi.advanceTimersByTimeAsync(NODES_REFRESH_MS);
    });
    const error = await screen.findByTestId('nodes-error');
    expect(error.textContent).toMatch(/The console failed to read the nodes\./);
    expect(error.textContent).toMatch(/last successful update/);
    expect(screen.getByTestId('nodes-table')).toBeTruthy();
    fail = false;
    await act(async () => {
      await vi.advanceTimersByTimeAsync(NODES_REFRESH_MS);
    });
    await waitFor(() => expect(screen.queryByTestId('nodes-error')).toBeNull());
  });

  it('shows an empty state that points at Add a node', async () => {
    routes({ 'GET /api/v1/nodes': json(200, { nodes: [] }) });
    await openNodes();
    const empty = await screen.findByTestId('nodes-empty');
    expect(empty.textContent).toMatch(/Add a node/);
    expect(screen.queryByTestId('nodes-table')).toBeNull();
    fireEvent.click(within(empty).getByTestId('nodes-empty-add'));
    expect(document.activeElement).toBe(screen.getByTestId('join-ttl'));
    expect(screen.getByTestId('node-add')).toBeTruthy();
  });
});

describe('nodes page: labels', () => {
  it('edits the labels and sends the whole set with the CSRF token', async () => {
    let node = NODE_A;
    const m = routes({
      'GET /api/v1/nodes': () => json(200, { nodes: [node] }),
      [`PUT /api/v1/nodes/${NODE_A.id}/labels`]: (call) => {
        node = { ...NODE_A, labels: (call.body as { labels: typeof NODE_A.labels }).labels };
        return json(200, node);
      },
    });
    await openNodes();
    await screen.findByTestId('nodes-table');
    fireEvent.click(within(row(NODE_A.id)).getByTestId('node-labels-button'));
    const editor = screen.getByTestId('node-labels-edit');
    expect(editor.getAttribute('data-node-id')).toBe(NODE_A.id);

    const keys = within(editor).getAllByTestId('label-key') as HTMLInputElement[];
    const values = within(editor).getAllByTestId('label-value') as HTMLInputElement[];
    expect(keys.map((k) => k.value)).toEqual(['region', 'role']);
    expect(values.map((v) => v.value)).toEqual(['eu', 'web']);

    type(values[0], 'us');
    fireEvent.click(within(editor).getAllByTestId('label-remove')[1]); // role=web
    fireEvent.click(within(editor).getByTestId('label-add'));
    const rows = within(editor).getAllByTestId('label-row');
    expect(rows).toHaveLength(2);
    type(within(rows[1]).getByTestId('label-key'), 'tier');
    type(within(rows[1]).getByTestId('label-value'), 'gold');
    fireEvent.click(within(editor).getByTestId('node-labels-save'));

    await waitFor(() => expect(screen.queryByTestId('node-labels-edit')).toBeNull());
    const puts = m.callsTo('PUT', `/api/v1/nodes/${NODE_A.id}/labels`);
    expect(puts).toHaveLength(1);
    expect(puts[0].body).toEqual({ labels: { region: 'us', tier: 'gold' } });
    expect(puts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect(puts[0].headers['content-type']).toBe('application/json');
    expect(within(row(NODE_A.id)).getAllByTestId('node-label').map((l) => l.textContent)).toEqual([
      'region=us',
      'tier=gold',
    ]);
    expect(screen.getByTestId('nodes-notice').textContent).toMatch(/labels of app-1 are saved/);
  });

  it('shows the server message and keeps the edits when the labels are refused', async () => {
    const m = routes({
      'GET /api/v1/nodes': json(200, { nodes: [NODE_A] }),
      [`PUT /api/v1/nodes/${NODE_A.id}/labels`]: apiError(
        400,
        'invalid_input',
        'label "bad key"="x": keys are 1-63 of letters, digits, \'-\', \'_\', \'.\', \'/\'',
      ),
    });
    await openNodes();
    await screen.findByTestId('nodes-table');
    fireEvent.click(within(row(NODE_A.id)).getByTestId('node-labels-button'));
    const editor = screen.getByTestId('node-labels-edit');
    fireEvent.click(within(editor).getByTestId('label-add'));
    const last = within(editor).getAllByTestId('label-row')[2];
    type(within(last).getByTestId('label-key'), 'bad key');
    type(within(last).getByTestId('label-value'), 'x');
    fireEvent.click(within(editor).getByTestId('node-labels-save'));

    const error = await within(editor).findByTestId('node-labels-error');
    expect(error.textContent).toMatch(/label "bad key"="x": keys are 1-63/);
    expect(m.callsTo('PUT', `/api/v1/nodes/${NODE_A.id}/labels`)[0].body).toEqual({
      labels: { region: 'eu', role: 'web', 'bad key': 'x' },
    });
    expect((within(last).getByTestId('label-key') as HTMLInputElement).value).toBe('bad key');
    expect((within(editor).getByTestId('node-labels-save') as HTMLButtonElement).disabled).toBe(false);
  });

  it('checks the form before sending and cancels without sending', async () => {
    const m = routes({ 'GET /api/v1/nodes': json(200, { nodes: [NODE_A] }) });
    await openNodes();
    await screen.findByTestId('nodes-table');
    fireEvent.click(within(row(NODE_A.id)).getByTestId('node-labels-button'));
    const editor = screen.getByTestId('node-labels-edit');
    type(within(editor).getAllByTestId('label-key')[1], 'region');
    fireEvent.click(within(editor).getByTestId('node-labels-save'));
    expect(within(editor).getByTestId('node-labels-error').textContent).toMatch(/"region" is given twice/);
    fireEvent.click(within(editor).getByTestId('node-labels-cancel'));
    expect(screen.queryByTestId('node-labels-edit')).toBeNull();
    expect(m.callsTo('PUT', `/api/v1/nodes/${NODE_A.id}/labels`)).toHaveLength(0);
  });

  it('keeps the edits while the list refreshes', async () => {
    routes({ 'GET /api/v1/nodes': json(200, { nodes: [NODE_A] }) });
    await openNodes();
    await screen.findByTestId('nodes-table');
    fireEvent.click(within(row(NODE_A.id)).getByTestId('node-labels-button'));
    type(within(screen.getByTestId('node-labels-edit')).getAllByTestId('label-value')[0], 'changed');
    await act(async () => {
      await vi.advanceTimersByTimeAsync(NODES_REFRESH_MS * 2);
    });
    const values = within(screen.getByTestId('node-labels-edit')).getAllByTestId('label-value') as HTMLInputElement[];
    expect(values[0].value).toBe('changed');
  });
});

describe('nodes page: remove', () => {
  it('asks first, explains the consequence, and removes on confirm', async () => {
    let nodes = [NODE_A, NODE_B];
    const m = routes({
      'GET /api/v1/nodes': () => json(200, { nodes }),
      [`DELETE /api/v1/nodes/${NODE_B.id}`]: () => {
        nodes = [NODE_A];
        return json(200, { ok: true });
      },
    });
    await openNodes();
    await screen.findByTestId('nodes-table');

    fireEvent.click(within(row(NODE_B.id)).getByTestId('node-remove'));
    let dialog = screen.getByTestId('node-remove-dialog');
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(dialog.textContent).toContain('db-1');
    expect(dialog.textContent).toMatch(/revokes the certificate/);
    expect(dialog.textContent).toMatch(/refused/);
    expect(dialog.textContent).toMatch(/joins again/);
    expect(document.activeElement).toBe(within(dialog).getByTestId('node-remove-cancel'));

    // Cancel and Escape send nothing.
    fireEvent.click(within(dialog).getByTestId('node-remove-cancel'));
    expect(screen.queryByTestId('node-remove-dialog')).toBeNull();
    fireEvent.click(within(row(NODE_B.id)).getByTestId('node-remove'));
    fireEvent.keyDown(screen.getByTestId('node-remove-dialog'), { key: 'Escape' });
    expect(screen.queryByTestId('node-remove-dialog')).toBeNull();
    expect(m.callsTo('DELETE', `/api/v1/nodes/${NODE_B.id}`)).toHaveLength(0);

    fireEvent.click(within(row(NODE_B.id)).getByTestId('node-remove'));
    dialog = screen.getByTestId('node-remove-dialog');
    fireEvent.click(within(dialog).getByTestId('node-remove-confirm'));
    await waitFor(() => expect(screen.queryByTestId('node-remove-dialog')).toBeNull());

    const deletes = m.callsTo('DELETE', `/api/v1/nodes/${NODE_B.id}`);
    expect(deletes).toHaveLength(1);
    expect(deletes[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect(document.querySelector(`[data-node-id="${NODE_B.id}"]`)).toBeNull();
    expect(screen.getAllByTestId('node-row')).toHaveLength(1);
    expect(screen.getByTestId('nodes-notice').textContent).toMatch(/db-1 is removed/);
  });

  it('shows the server message in the dialog when the removal fails', async () => {
    routes({
      'GET /api/v1/nodes': json(200, { nodes: [NODE_A] }),
      [`DELETE /api/v1/nodes/${NODE_A.id}`]: apiError(404, 'not_found', 'There is no node node-1a2b3c4d5e6f.'),
    });
    await openNodes();
    await screen.findByTestId('nodes-table');
    fireEvent.click(within(row(NODE_A.id)).getByTestId('node-remove'));
    fireEvent.click(screen.getByTestId('node-remove-confirm'));
    const error = await screen.findByTestId('node-remove-error');
    expect(error.textContent).toMatch(/There is no node node-1a2b3c4d5e6f\./);
    expect(screen.getByTestId('node-remove-dialog')).toBeTruthy();
    expect(screen.getAllByTestId('node-row')).toHaveLength(1);
  });
});

describe('nodes page: add a node', () => {
  const COMMAND =
    'outpost-agent join --console https://console.example:9879 --token OPT1.3f9a0c12d4e5b6a7.secretsecretsecret';
  const TOKEN = {
    token: 'OPT1.3f9a0c12d4e5b6a7.secretsecretsecret',
    command: COMMAND,
    expires_at: '2025-06-02T12:00:00Z',
  };

  it('makes a join token with the chosen TTL and labels and shows the command', async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    try {
      const m = routes({
        'GET /api/v1/nodes': json(200, { nodes: [] }),
        'POST /api/v1/nodes/join-token': json(200, TOKEN),
      });
      await openNodes();
      const panel = screen.getByTestId('node-add');
      const ttl = within(panel).getByTestId('join-ttl') as HTMLSelectElement;
      expect(ttl.value).toBe('1h');
      expect(Array.from(ttl.options).map((o) => o.value)).toEqual(['15m', '1h', '24h']);
      fireEvent.change(ttl, { target: { value: '24h' } });
      fireEvent.click(within(panel).getByTestId('label-add'));
      type(within(panel).getByTestId('label-key'), 'region');
      type(within(panel).getByTestId('label-value'), 'eu');
      fireEvent.click(within(panel).getByTestId('join-token-create'));

      const command = await within(panel).findByTestId('join-command');
      expect(command.textContent).toBe(COMMAND);
      expect(command.tagName).toBe('PRE');
      const expiry = within(panel).getByTestId('join-expiry');
      expect(expiry.textContent).toBe('2025-06-02 12:00:00 UTC');
      expect(expiry.getAttribute('data-value')).toBe(TOKEN.expires_at);
      expect(panel.textContent).toMatch(/works once/);

      const posts = m.callsTo('POST', '/api/v1/nodes/join-token');
      expect(posts).toHaveLength(1);
      expect(posts[0].body).toEqual({ ttl: '24h', labels: { region: 'eu' } });
      expect(posts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);

      fireEvent.click(within(panel).getByText('Copy command'));
      await waitFor(() => expect(writeText).toHaveBeenCalledWith(COMMAND));
    } finally {
      Reflect.deleteProperty(navigator, 'clipboard');
    }
  });

  it('sends the default TTL and no labels', async () => {
    const m = routes({
      'GET /api/v1/nodes': json(200, { nodes: [NODE_A] }),
      'POST /api/v1/nodes/join-token': json(200, TOKEN),
    });
    await openNodes();
    fireEvent.click(screen.getByTestId('join-token-create'));
    await screen.findByTestId('join-command');
    expect(m.callsTo('POST', '/api/v1/nodes/join-token')[0].body).toEqual({ ttl: '1h', labels: {} });
  });

  it('shows the server message when no token is made', async () => {
    routes({
      'GET /api/v1/nodes': json(200, { nodes: [] }),
      'POST /api/v1/nodes/join-token': apiError(400, 'invalid_input', 'a join token lives between 1 s and 168 h'),
    });
    await openNodes();
    fireEvent.click(screen.getByTestId('join-token-create'));
    const error = await screen.findByTestId('join-error');
    expect(error.textContent).toMatch(/a join token lives between 1 s and 168 h/);
    expect(screen.queryByTestId('join-command')).toBeNull();
  });
});

describe('nodes navigation and dashboard', () => {
  it('has a Nodes entry after License', async () => {
    routes({
      'GET /api/v1/status': json(200, STATUS),
      'GET /api/v1/license': json(200, { license: LICENSE }),
      'GET /api/v1/nodes': json(200, { nodes: [NODE_A] }),
    });
    go('/');
    render(<App />);
    await screen.findByTestId('dashboard');
    const links = Array.from(document.querySelectorAll('nav [data-testid^="nav-"]')).map((a) =>
      a.getAttribute('data-testid'),
    );
    expect(links.indexOf('nav-nodes')).toBe(links.indexOf('nav-config') + 1);
    expect(links.indexOf('nav-config')).toBe(links.indexOf('nav-license') + 1);
    fireEvent.click(screen.getByTestId('nav-nodes'));
    expect(await screen.findByTestId('nodes-page')).toBeTruthy();
    expect(window.location.pathname).toBe('/nodes');
    expect(screen.getByTestId('nav-nodes').getAttribute('aria-current')).toBe('page');
  });

  it('shows how many nodes are online on the dashboard, linking to /nodes', async () => {
    routes({
      'GET /api/v1/status': json(200, STATUS),
      'GET /api/v1/license': json(200, { license: null }),
      'GET /api/v1/nodes': json(200, { nodes: [NODE_A, NODE_B, { ...NODE_C, status: 'online' }] }),
    });
    go('/');
    render(<App />);
    const summary = await screen.findByTestId('dashboard-nodes-summary');
    expect(summary.textContent).toBe('2 of 3 online');
    expect(summary.getAttribute('href')).toBe('/nodes');
    expect(within(screen.getByTestId('dashboard-nodes')).getByTestId('dashboard-nodes-offline').textContent).toMatch(
      /db-1/,
    );
    // The existing dashboard hooks are still there.
    expect(screen.getByTestId('dashboard-license-none')).toBeTruthy();
    expect(screen.getByTestId('uptime')).toBeTruthy();
    fireEvent.click(summary);
    expect(await screen.findByTestId('nodes-page')).toBeTruthy();
    expect(window.location.pathname).toBe('/nodes');
  });

  it('shows the dashboard card with no nodes and a load error', async () => {
    routes({
      'GET /api/v1/status': json(200, STATUS),
      'GET /api/v1/license': json(200, { license: null }),
      'GET /api/v1/nodes': json(200, { nodes: [] }),
    });
    go('/');
    const view = render(<App />);
    expect((await screen.findByTestId('dashboard-nodes-summary')).textContent).toBe('0 of 0 online');
    expect(screen.getByTestId('dashboard-nodes').textContent).toMatch(/no node has joined yet/);
    view.unmount();

    routes({
      'GET /api/v1/status': json(200, STATUS),
      'GET /api/v1/license': json(200, { license: null }),
      'GET /api/v1/nodes': apiError(500, 'internal', 'The node store is unavailable.'),
    });
    render(<App />);
    const card = await screen.findByTestId('dashboard-nodes');
    await waitFor(() => expect(card.textContent).toMatch(/The node store is unavailable\./));
    expect(screen.queryByTestId('dashboard-nodes-summary')).toBeNull();
  });
});
