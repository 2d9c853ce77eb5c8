import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { toRegistries } from './api';
import { initialRegistriesForm, newCredentialRow, newRuleRow, registriesUpdate } from './registriesForm';
import { REGISTRIES } from './test/lifecycle';
import { apiError, HEALTH, json, mockApi, SESSION, type Route } from './test/mockApi';

const LEAKED = 'leaked-password-must-not-show';

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/registries': json(200, REGISTRIES),
    ...extra,
  });
}

async function openRegistries() {
  go('/settings/registries');
  render(<App />);
  await screen.findByTestId('registry-rules');
}

function type(el: HTMLElement, value: string) {
  fireEvent.change(el, { target: { value } });
}

function values(testId: string): string[] {
  return (screen.getAllByTestId(testId) as HTMLInputElement[]).map((i) => i.value);
}

describe('registries page', () => {
  it('shows the rules, the admin credentials with "stored", and the license credentials read-only', async () => {
    // Even if the console sent a password by mistake, it is never shown or put into a field.
    routes({
      'GET /api/v1/registries': json(200, {
        ...REGISTRIES,
        credentials: REGISTRIES.credentials.map((c) => ({ ...c, password: LEAKED })),
      }),
    });
    await openRegistries();
    expect(document.title).toBe('Registries · Outpost');
    expect(screen.getByTestId('nav-registries').getAttribute('aria-current')).toBe('page');

    expect(values('registry-rule-from')).toEqual(['docker.io', 'quay.io/acme']);
    expect(values('registry-rule-to')).toEqual(['mirror.example.internal', 'mirror.example.internal/acme']);

    const credentials = screen.getAllByTestId('registry-credential');
    expect(credentials).toHaveLength(1);
    expect(values('registry-credential-host')).toEqual(['mirror.example.internal']);
    expect(values('registry-credential-username')).toEqual(['puller']);
    const password = screen.getByTestId('registry-credential-password') as HTMLInputElement;
    expect(password.type).toBe('password');
    expect(password.value).toBe('');
    expect(password.getAttribute('autocomplete')).toBe('new-password');
    expect(within(credentials[0]).getByTestId('registry-credential-stored').textContent).toBe('stored');

    const license = screen.getByTestId('registry-license-credential');
    expect(license.getAttribute('data-host')).toBe('registry.vendor.example');
    expect(license.textContent).toContain('acme-pull');
    expect(license.textContent).toContain('from the license');
    expect(license.querySelector('input')).toBeNull();

    expect(document.body.innerHTML).not.toContain(LEAKED);
    expect((screen.getByTestId('registries-save') as HTMLButtonElement).disabled).toBe(true);
  });

  it('saves the rules and sends null for a credential whose password was left empty', async () => {
    let saved: unknown = null;
    const m = routes({
      'PUT /api/v1/registries': (call) => {
        saved = call.body;
        return json(200, {
          rules: [{ from: 'docker.io', to: 'mirror2.example.internal' }],
          credentials: REGISTRIES.credentials,
        });
      },
    });
    await openRegistries();
    type(screen.getAllByTestId('registry-rule-to')[0], 'mirror2.example.internal');
    fireEvent.click(screen.getAllByTestId('registry-rule-remove')[1]);
    expect(screen.getByTestId('registries-dirty').textContent).toBe('Unsaved changes');
    fireEvent.click(screen.getByTestId('registries-save'));

    expect(await screen.findByTestId('registries-saved')).toBeTruthy();
    const puts = m.callsTo('PUT', '/api/v1/registries');
    expect(puts).toHaveLength(1);
    expect(puts[0].headers['x-csrf-token']).toBe(SESSION.csrf_token);
    // License credentials are not sent back; the unchanged admin credential keeps its password.
    expect(saved).toEqual({
      rules: [{ from: 'docker.io', to: 'mirror2.example.internal' }],
      credentials: [{ host: 'mirror.example.internal', username: 'puller', password: null }],
    });
    expect(values('registry-rule-to')).toEqual(['mirror2.example.internal']);
    expect(screen.getByTestId('registries-dirty').textContent).toBe('No unsaved changes');
  });

  it('sends a typed password once and clears the field after saving', async () => {
    const m = routes({ 'PUT /api/v1/registries': json(200, REGISTRIES) });
    await openRegistries();
    type(screen.getByTestId('registry-credential-password'), 's3cret pass');
    fireEvent.click(screen.getByTestId('registries-save'));
    await screen.findByTestId('registries-saved');
    expect(m.callsTo('PUT', '/api/v1/registries')[0].body).toMatchObject({
      credentials: [{ host: 'mirror.example.internal', username: 'puller', password: 's3cret pass' }],
    });
    expect((screen.getByTestId('registry-credential-password') as HTMLInputElement).value).toBe('');
    expect(document.body.innerHTML).not.toContain('s3cret pass');
  });

  it('asks for the password of a new credential before sending', async () => {
    const m = routes({ 'PUT /api/v1/registries': json(200, REGISTRIES) });
    await openRegistries();
    fireEvent.click(screen.getByTestId('registry-credential-add'));
    const row = screen.getAllByTestId('registry-credential')[1];
    type(within(row).getByTestId('registry-credential-host'), 'ghcr.io');
    type(within(row).getByTestId('registry-credential-username'), 'bot');
    expect(within(row).queryByTestId('registry-credential-stored')).toBeNull();
    fireEvent.click(screen.getByTestId('registries-save'));
    expect(screen.getByTestId('registries-check').textContent).toMatch(
      /Credential for ghcr\.io: enter the password; none is stored/,
    );
    expect(m.callsTo('PUT', '/api/v1/registries')).toHaveLength(0);

    type(within(row).getByTestId('registry-credential-password'), 'tok');
    fireEvent.click(screen.getByTestId('registries-save'));
    await screen.findByTestId('registries-saved');
    expect(m.callsTo('PUT', '/api/v1/registries')[0].body).toMatchObject({
      credentials: [
        { host: 'mirror.example.internal', username: 'puller', password: null },
        { host: 'ghcr.io', username: 'bot', password: 'tok' },
      ],
    });
  });

  it('shows the console refusal and keeps the edits', async () => {
    routes({
      'PUT /api/v1/registries': apiError(
        400,
        'registries_invalid',
        'rule 1: "not a host!" is not a registry host or image prefix',
      ),
    });
    await openRegistries();
    fireEvent.click(screen.getByTestId('registry-rule-add'));
    type(screen.getAllByTestId('registry-rule-from')[2], 'not a host!');
    type(screen.getAllByTestId('registry-rule-to')[2], 'mirror.example.internal');
    fireEvent.click(screen.getByTestId('registries-save'));
    const error = await screen.findByTestId('registries-error');
    expect(error.textContent).toContain('rule 1: "not a host!" is not a registry host or image prefix');
    expect(values('registry-rule-from')).toEqual(['docker.io', 'quay.io/acme', 'not a host!']);
    expect((screen.getByTestId('registries-save') as HTMLButtonElement).disabled).toBe(false);
  });

  it('discards the edits', async () => {
    routes();
    await openRegistries();
    type(screen.getAllByTestId('registry-rule-from')[0], 'changed.example');
    fireEvent.click(screen.getByTestId('registries-discard'));
    await waitFor(() => expect(values('registry-rule-from')).toEqual(['docker.io', 'quay.io/acme']));
  });
});

describe('registriesUpdate', () => {
  const form = initialRegistriesForm(toRegistries(REGISTRIES));

  it('drops empty rows, trims, and keeps stored passwords as null', () => {
    const result = registriesUpdate({
      rules: [...form.rules, newRuleRow('', ''), newRuleRow(' gcr.io ', ' mirror.local ')],
      credentials: [...form.credentials, newCredentialRow()],
    });
    expect(result.errors).toEqual([]);
    expect(result.update).toEqual({
      rules: [...REGISTRIES.rules, { from: 'gcr.io', to: 'mirror.local' }],
      credentials: [{ host: 'mirror.example.internal', username: 'puller', password: null }],
    });
  });

  it('needs a new password when the host of a stored credential changes', () => {
    const moved = { ...form.credentials[0], host: 'other.example' };
    expect(registriesUpdate({ rules: [], credentials: [moved] }).errors).toEqual([
      'Credential for other.example: enter the password; none is stored for this host yet.',
    ]);
  });

  it('names each incomplete or repeated row', () => {
    const result = registriesUpdate({
      rules: [newRuleRow('docker.io', ''), newRuleRow('', 'x'), newRuleRow('a', 'b'), newRuleRow('a', 'c')],
      credentials: [
        { ...newCredentialRow(), username: 'u', password: 'p' },
        { ...newCredentialRow(), host: 'h', password: 'p' },
        { ...newCredentialRow(), host: 'h', username: 'u', password: 'p' },
      ],
    });
    expect(result.update).toBeNull();
    expect(result.errors).toEqual([
      'Rule 1: enter where docker.io is pulled from instead (To).',
      'Rule 2: enter the registry or image prefix to rewrite (From).',
      'Rule 4: a is rewritten twice.',
      'Credential 1: enter the registry host.',
      'Credential for h: enter the user name.',
      'Credential for h: this host is given twice.',
    ]);
  });
});
