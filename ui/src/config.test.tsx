import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { apiError, HEALTH, json, mockApi, SESSION, type Call, type Route } from './test/mockApi';

const RELEASES = [
  {
    sequence: 2,
    version: '1.1.0',
    channel: 'stable',
    notes: '',
    required: false,
    created_at: '2025-05-01T00:00:00Z',
    digest: 'sha256:22',
    source: 'file',
    loaded_at: '2025-06-01T08:00:00Z',
    images: [],
  },
  {
    sequence: 1,
    version: '1.0.0',
    channel: 'stable',
    notes: '',
    required: false,
    created_at: '2025-04-01T00:00:00Z',
    digest: 'sha256:11',
    source: 'file',
    loaded_at: '2025-05-01T08:00:00Z',
    images: [],
  },
];

const STORED_SECRET = 'do-not-show-this-secret';

function item(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    help: '',
    required: false,
    default: null,
    options: null,
    min: null,
    max: null,
    regex_message: null,
    value: null,
    is_set: false,
    secret: false,
    ...fields,
  };
}

const CONFIG = {
  sequence: 2,
  version: '1.1.0',
  groups: [
    {
      name: 'general',
      title: 'General',
      description: 'Where the application answers.',
      items: [
        item({
          name: 'hostname',
          title: 'Host name',
          type: 'text',
          help: 'The name users type in their browser.',
          required: true,
          default: 'app.local',
          regex: '^[a-z0-9.-]+$',
          regex_message: 'Use lower-case letters, digits, dots and dashes.',
          value: 'app.example.com',
          is_set: true,
        }),
        item({ name: 'motd', title: 'Message of the day', type: 'textarea', default: 'Welcome!' }),
        item({ name: 'workers', title: 'Workers', type: 'number', default: '2', min: 1, max: 16, value: '4', is_set: true }),
        item({
          name: 'log_level',
          title: 'Log level',
          type: 'select',
          default: 'info',
          options: ['debug', 'info', 'warn'],
        }),
      ],
    },
    {
      name: 'security',
      title: 'Security',
      description: 'Passwords and switches.',
      items: [
        // The console never sends a secret's value; if it did by mistake, the page must not show it.
        item({
          name: 'admin_password',
          title: 'Admin password',
          type: 'password',
          required: true,
          value: STORED_SECRET,
          is_set: true,
          secret: true,
        }),
        item({ name: 'smtp_password', title: 'SMTP password', type: 'password', secret: true }),
        item({ name: 'metrics', title: 'Metrics', type: 'bool', default: 'false', help: 'Runs the metrics service.' }),
      ],
    },
  ],
};

const CONFIG_V1 = {
  sequence: 1,
  version: '1.0.0',
  groups: [
    {
      name: 'basics',
      title: 'Basics',
      description: '',
      items: [item({ name: 'hostname', title: 'Host name', type: 'text', value: 'old.example.com', is_set: true })],
    },
  ],
};

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/releases': json(200, { releases: RELEASES }),
    'GET /api/v1/app/config': (call: Call) =>
      new URL(call.url, 'https://console.test').searchParams.get('sequence') === '1'
        ? json(200, CONFIG_V1)
        : json(200, CONFIG),
    ...extra,
  });
}

async function openConfig() {
  go('/config');
  render(<App />);
  await screen.findByTestId('config-page');
  await screen.findAllByTestId('config-group');
}

function field(name: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(`[data-testid="config-item"][data-item="${name}"]`);
  if (!el) throw new Error(`no item ${name}`);
  return el;
}

function input<T extends HTMLElement = HTMLInputElement>(name: string): T {
  return screen.getByTestId(`config-input-${name}`) as unknown as T;
}

function type(el: HTMLElement, value: string) {
  fireEvent.change(el, { target: { value } });
}

function sequenceOf(call: Call): string | null {
  return new URL(call.url, 'https://console.test').searchParams.get('sequence');
}

describe('config page: rendering', () => {
  it('shows every group and item by type, with label, help, required marker and default', async () => {
    const m = routes();
    await openConfig();
    expect(document.title).toBe('Config · Outpost');
    expect(screen.getByTestId('nav-config').getAttribute('aria-current')).toBe('page');
    expect(sequenceOf(m.callsTo('GET', '/api/v1/app/config')[0])).toBeNull();

    const groups = screen.getAllByTestId('config-group');
    expect(groups.map((g) => g.getAttribute('data-group'))).toEqual(['general', 'security']);
    expect(groups[0].textContent).toContain('General');
    expect(groups[0].textContent).toContain('Where the application answers.');
    expect(within(groups[1]).getAllByTestId('config-item').map((i) => i.getAttribute('data-item'))).toEqual([
      'admin_password',
      'smtp_password',
      'metrics',
    ]);

    // text
    const hostname = input('hostname');
    expect(hostname.type).toBe('text');
    expect(hostname.value).toBe('app.example.com');
    expect(hostname.placeholder).toBe('app.local');
    expect(screen.getByLabelText(/Host name/)).toBe(hostname);
    expect(within(field('hostname')).getByTestId('config-required')).toBeTruthy();
    expect(within(field('hostname')).getByTestId('config-item-help').textContent).toBe(
      'The name users type in their browser.',
    );
    expect(hostname.getAttribute('aria-describedby')).toContain('config-hostname-help');
    expect(within(field('motd')).queryByTestId('config-required')).toBeNull();

    // textarea
    const motd = input<HTMLTextAreaElement>('motd');
    expect(motd.tagName).toBe('TEXTAREA');
    expect(motd.value).toBe('');
    expect(motd.placeholder).toBe('Welcome!');

    // number
    const workers = input('workers');
    expect(workers.type).toBe('number');
    expect(workers.value).toBe('4');
    expect(workers.min).toBe('1');
    expect(workers.max).toBe('16');
    expect(workers.placeholder).toBe('2');

    // select
    const level = input<HTMLSelectElement>('log_level');
    expect(level.tagName).toBe('SELECT');
    expect(level.value).toBe('');
    expect(Array.from(level.options).map((o) => [o.value, o.textContent])).toEqual([
      ['', 'Default (info)'],
      ['debug', 'debug'],
      ['info', 'info'],
      ['warn', 'warn'],
    ]);

    // password: never prefilled, "stored" hint when set
    const admin = input('admin_password');
    expect(admin.type).toBe('password');
    expect(admin.value).toBe('');
    expect(admin.getAttribute('autocomplete')).toBe('new-password');
    expect(within(field('admin_password')).getByTestId('config-secret-stored').textContent).toMatch(
      /A value is stored/,
    );
    expect(within(field('admin_password')).getByTestId('config-secret-clear')).toBeTruthy();
    const smtp = input('smtp_password');
    expect(smtp.type).toBe('password');
    expect(within(field('smtp_password')).queryByTestId('config-secret-stored')).toBeNull();
    expect(within(field('smtp_password')).queryByTestId('config-secret-clear')).toBeNull();
    expect(document.body.innerHTML).not.toContain(STORED_SECRET);

    // bool
    const metrics = input('metrics');
    expect(metrics.type).toBe('checkbox');
    expect(metrics.checked).toBe(false);
    expect(screen.getByRole('switch', { name: 'Metrics' })).toBe(metrics);

    // release picker
    const picker = screen.getByTestId('config-release') as HTMLSelectElement;
    expect(picker.value).toBe('2');
    expect(Array.from(picker.options).map((o) => o.textContent)).toEqual(['1.1.0 (sequence 2)', '1.0.0 (sequence 1)']);

    expect(screen.getByTestId('config-dirty').textContent).toBe('No unsaved changes');
    expect((screen.getByTestId('config-save') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.queryByTestId('config-item-error')).toBeNull();
  });

  it('explains how to load a release when none is loaded', async () => {
    routes({
      'GET /api/v1/releases': json(200, { releases: [] }),
      'GET /api/v1/app/config': apiError(400, 'release_refused', 'No release is loaded yet.'),
    });
    go('/config');
    render(<App />);
    const empty = await screen.findByTestId('config-empty');
    expect(empty.textContent).toMatch(/No release loaded/);
    expect(empty.textContent).toContain('outpostctl release load FILE');
    expect(screen.queryByTestId('config-group')).toBeNull();
    expect(screen.queryByTestId('config-save')).toBeNull();
    expect(screen.queryByTestId('config-load-error')).toBeNull();
  });

  it('shows other load failures as errors', async () => {
    routes({ 'GET /api/v1/app/config': apiError(500, 'internal', 'The console failed.') });
    go('/config');
    render(<App />);
    expect((await screen.findByTestId('config-load-error')).textContent).toContain('The console failed.');
    expect(screen.queryByTestId('config-empty')).toBeNull();
  });
});

describe('config page: saving', () => {
  it('sends only the changed items, with the CSRF token, and re-renders from the answer', async () => {
    const answer = structuredClone(CONFIG);
    answer.groups[0].items[0].value = 'portal.example.com';
    answer.groups[0].items[2].value = '8';
    answer.groups[0].items[3].value = 'debug';
    answer.groups[0].items[3].is_set = true;
    answer.groups[1].items[2].value = 'true';
    answer.groups[1].items[2].is_set = true;
    const m = routes({ 'PUT /api/v1/app/config': json(200, answer) });
    await openConfig();

    type(input('hostname'), 'portal.example.com');
    type(input('workers'), '8');
    type(input('log_level'), 'debug');
    fireEvent.click(input('metrics'));
    // Changed and changed back: not sent.
    type(input('motd'), 'Hello');
    type(input('motd'), '');

    expect(screen.getByTestId('config-dirty').textContent).toBe('4 unsaved changes');
    expect(field('hostname').getAttribute('data-changed')).toBe('true');
    expect(field('motd').getAttribute('data-changed')).toBe('false');
    // Unsaved changes lock the release picker.
    expect((screen.getByTestId('config-release') as HTMLSelectElement).disabled).toBe(true);

    fireEvent.click(screen.getByTestId('config-save'));
    expect((await screen.findByTestId('config-saved')).textContent).toMatch(/4 changes saved for release 1\.1\.0/);

    const puts = m.callsTo('PUT', '/api/v1/app/config');
    expect(puts).toHaveLength(1);
    expect(sequenceOf(puts[0])).toBe('2');
    expect(puts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    expect(puts[0].headers['content-type']).toBe('application/json');
    expect(puts[0].body).toEqual({
      values: { hostname: 'portal.example.com', workers: '8', log_level: 'debug', metrics: 'true' },
    });

    // Re-rendered from the answer: nothing is unsaved any more.
    expect(screen.getByTestId('config-dirty').textContent).toBe('No unsaved changes');
    expect(input('hostname').value).toBe('portal.example.com');
    expect(input<HTMLSelectElement>('log_level').value).toBe('debug');
    expect(input('metrics').checked).toBe(true);
    expect((screen.getByTestId('config-release') as HTMLSelectElement).disabled).toBe(false);
  });

  it('sends null for an emptied field and "false" for a switched-off bool', async () => {
    const withMetrics = structuredClone(CONFIG);
    withMetrics.groups[1].items[2].value = 'true';
    withMetrics.groups[1].items[2].is_set = true;
    const m = routes({
      'GET /api/v1/app/config': json(200, withMetrics),
      'PUT /api/v1/app/config': json(200, CONFIG),
    });
    await openConfig();
    expect(input('metrics').checked).toBe(true);
    fireEvent.click(input('metrics'));
    type(input('workers'), '');
    fireEvent.click(screen.getByTestId('config-save'));
    await screen.findByTestId('config-saved');
    expect(m.callsTo('PUT', '/api/v1/app/config')[0].body).toEqual({ values: { metrics: 'false', workers: null } });
  });

  it('never prefills a stored secret, does not send an empty password field, sends a typed one or null on Clear', async () => {
    const setItem = vi.spyOn(Storage.prototype, 'setItem');
    const log = vi.spyOn(console, 'log');
    const m = routes({ 'PUT /api/v1/app/config': json(200, CONFIG) });
    await openConfig();

    const admin = input('admin_password');
    expect(admin.value).toBe('');
    expect(admin.placeholder).not.toContain(STORED_SECRET);

    // Only another field changed: the passwords are left out, so the stored secret stays.
    type(input('hostname'), 'other.example.com');
    fireEvent.click(screen.getByTestId('config-save'));
    await screen.findByTestId('config-saved');
    expect(m.callsTo('PUT', '/api/v1/app/config')[0].body).toEqual({ values: { hostname: 'other.example.com' } });

    // A typed password is sent; the field is empty again afterwards.
    type(input('smtp_password'), 'n3w-smtp-pass');
    expect(screen.getByTestId('config-dirty').textContent).toBe('1 unsaved change');
    fireEvent.click(screen.getByTestId('config-save'));
    await waitFor(() => expect(m.callsTo('PUT', '/api/v1/app/config')).toHaveLength(2));
    expect(m.callsTo('PUT', '/api/v1/app/config')[1].body).toEqual({ values: { smtp_password: 'n3w-smtp-pass' } });
    await waitFor(() => expect(input('smtp_password').value).toBe(''));

    // Typing and deleting again: nothing to send.
    type(input('admin_password'), 'x');
    type(input('admin_password'), '');
    expect(screen.getByTestId('config-dirty').textContent).toBe('No unsaved changes');

    // Clear → null; Undo takes it back.
    // Nothing stored: nothing to clear.
    expect(within(field('smtp_password')).queryByTestId('config-secret-clear')).toBeNull();
    fireEvent.click(within(field('admin_password')).getByTestId('config-secret-clear'));
    expect(within(field('admin_password')).getByTestId('config-secret-cleared')).toBeTruthy();
    // Clearing a required secret is refused before sending.
    expect(within(field('admin_password')).getByTestId('config-item-error').textContent).toBe('A value is required.');
    fireEvent.click(within(field('admin_password')).getByTestId('config-secret-undo'));
    expect(within(field('admin_password')).getByTestId('config-secret-stored')).toBeTruthy();
    expect(screen.getByTestId('config-dirty').textContent).toBe('No unsaved changes');

    expect(setItem).not.toHaveBeenCalled();
    expect(log).not.toHaveBeenCalled();
    expect(document.body.innerHTML).not.toContain(STORED_SECRET);
  });

  it('sends null when a stored optional secret is cleared', async () => {
    const withSmtp = structuredClone(CONFIG);
    withSmtp.groups[1].items[1].is_set = true;
    const m = routes({
      'GET /api/v1/app/config': json(200, withSmtp),
      'PUT /api/v1/app/config': json(200, CONFIG),
    });
    await openConfig();
    fireEvent.click(within(field('smtp_password')).getByTestId('config-secret-clear'));
    expect(screen.getByTestId('config-dirty').textContent).toBe('1 unsaved change');
    fireEvent.click(screen.getByTestId('config-save'));
    await screen.findByTestId('config-saved');
    expect(m.callsTo('PUT', '/api/v1/app/config')[0].body).toEqual({ values: { smtp_password: null } });
  });

  it('shows the server message on config_invalid and keeps the edits', async () => {
    const m = routes({
      'PUT /api/v1/app/config': apiError(400, 'config_invalid', 'workers: 9 is outside 1..=8'),
    });
    await openConfig();
    type(input('workers'), '9');
    type(input('smtp_password'), 'secret-1');
    fireEvent.click(screen.getByTestId('config-save'));
    const banner = await screen.findByTestId('config-error');
    expect(banner.textContent).toContain('workers: 9 is outside 1..=8');
    expect(banner.getAttribute('role')).toBe('alert');
    expect(m.callsTo('PUT', '/api/v1/app/config')).toHaveLength(1);
    expect(input('workers').value).toBe('9');
    expect(input('smtp_password').value).toBe('secret-1');
    expect(screen.getByTestId('config-dirty').textContent).toBe('2 unsaved changes');
    expect(screen.queryByTestId('config-saved')).toBeNull();

    // Discard resets every field and the error.
    fireEvent.click(screen.getByTestId('config-discard'));
    expect(input('workers').value).toBe('4');
    expect(input('smtp_password').value).toBe('');
    expect(screen.getByTestId('config-dirty').textContent).toBe('No unsaved changes');
    expect(screen.queryByTestId('config-error')).toBeNull();
  });

  it('checks required, range and pattern before sending, per field', async () => {
    const m = routes({ 'PUT /api/v1/app/config': json(200, CONFIG) });
    await openConfig();

    type(input('workers'), '17');
    type(input('hostname'), 'Not A Host');
    const workersError = within(field('workers')).getByTestId('config-item-error');
    expect(workersError.textContent).toBe('Enter a whole number from 1 to 16.');
    expect(input('workers').getAttribute('aria-invalid')).toBe('true');
    expect(within(field('hostname')).getByTestId('config-item-error').textContent).toBe(
      'Use lower-case letters, digits, dots and dashes.',
    );
    fireEvent.click(screen.getByTestId('config-save'));
    expect(document.activeElement).toBe(input('hostname'));

    type(input('hostname'), '');
    expect(within(field('hostname')).getByTestId('config-item-error').textContent).toBe('A value is required.');
    type(input('workers'), '2.5');
    expect(within(field('workers')).getByTestId('config-item-error').textContent).toBe('Enter a whole number.');
    fireEvent.click(screen.getByTestId('config-save'));
    expect(m.callsTo('PUT', '/api/v1/app/config')).toHaveLength(0);

    type(input('hostname'), 'ok.example.com');
    type(input('workers'), '16');
    expect(screen.queryByTestId('config-item-error')).toBeNull();
    fireEvent.click(screen.getByTestId('config-save'));
    await screen.findByTestId('config-saved');
    expect(m.callsTo('PUT', '/api/v1/app/config')[0].body).toEqual({
      values: { hostname: 'ok.example.com', workers: '16' },
    });
  });
});

describe('config page: release picker', () => {
  it('reloads with ?sequence=N and saves to that release', async () => {
    const m = routes({ 'PUT /api/v1/app/config': json(200, CONFIG_V1) });
    await openConfig();
    const picker = screen.getByTestId('config-release') as HTMLSelectElement;
    fireEvent.change(picker, { target: { value: '1' } });

    await waitFor(() => expect(screen.getAllByTestId('config-group').map((g) => g.getAttribute('data-group'))).toEqual(['basics']));
    const gets = m.callsTo('GET', '/api/v1/app/config');
    expect(gets).toHaveLength(2);
    expect(sequenceOf(gets[1])).toBe('1');
    expect((screen.getByTestId('config-release') as HTMLSelectElement).value).toBe('1');
    expect(input('hostname').value).toBe('old.example.com');

    type(input('hostname'), 'new.example.com');
    fireEvent.click(screen.getByTestId('config-save'));
    await screen.findByTestId('config-saved');
    const put = m.callsTo('PUT', '/api/v1/app/config')[0];
    expect(sequenceOf(put)).toBe('1');
    expect(put.body).toEqual({ values: { hostname: 'new.example.com' } });
  });

  it('is reached from the navigation, right after License', async () => {
    routes({ 'GET /api/v1/status': json(500, {}), 'GET /api/v1/license': json(200, { license: null }) });
    go('/license');
    render(<App />);
    await screen.findByTestId('license-page');
    const links = Array.from(document.querySelectorAll('nav [data-testid^="nav-"]')).map((a) =>
      a.getAttribute('data-testid'),
    );
    expect(links.indexOf('nav-config')).toBe(links.indexOf('nav-license') + 1);
    expect(screen.getByTestId('nav-config').textContent).toBe('Config');
    fireEvent.click(screen.getByTestId('nav-config'));
    await screen.findByTestId('config-page');
    expect(window.location.pathname).toBe('/config');
  });
});
