// The registries form: mirror / rewrite rules and the admin's credentials as editable rows,
// the checks made before sending, and the `PUT /registries` body. Passwords are never prefilled:
// an empty password field keeps the stored one (sent as `null`).

import type { Registries, RegistriesUpdate, RegistryCredential, RegistryCredentialUpdate, RegistryRule } from './api';

export interface RuleRow {
  /** Stable React key for the row (not sent). */
  id: number;
  from: string;
  to: string;
}

export interface CredentialRow {
  id: number;
  host: string;
  username: string;
  /** What the admin typed; empty keeps the stored password. Never filled from an answer. */
  password: string;
  /** The host this row had when it was loaded (`null` for a new row): only that host has a stored password. */
  storedHost: string | null;
  /** The console has a password for `storedHost`. */
  stored: boolean;
}

export interface RegistriesForm {
  rules: RuleRow[];
  credentials: CredentialRow[];
}

let nextId = 1;

export function newRuleRow(from = '', to = ''): RuleRow {
  return { id: nextId++, from, to };
}

export function newCredentialRow(): CredentialRow {
  return { id: nextId++, host: '', username: '', password: '', storedHost: null, stored: false };
}

/** The editable rows for an answer; the license's credentials are not editable and stay out. */
export function initialRegistriesForm(registries: Registries): RegistriesForm {
  return {
    rules: registries.rules.map((r) => newRuleRow(r.from, r.to)),
    credentials: registries.credentials
      .filter((c) => c.source === 'admin')
      .map((c) => ({
        id: nextId++,
        host: c.host,
        username: c.username,
        password: '',
        storedHost: c.host,
        stored: c.password_set,
      })),
  };
}

/** The read-only credentials that come with the license. */
export function licenseCredentials(registries: Registries): RegistryCredential[] {
  return registries.credentials.filter((c) => c.source === 'license');
}

/** A stored password still applies to this row: same host as loaded, and one is stored. */
export function keepsStoredPassword(row: CredentialRow): boolean {
  return row.stored && row.storedHost !== null && row.host.trim() === row.storedHost;
}

export type RegistriesResult = { update: RegistriesUpdate; errors: [] } | { update: null; errors: string[] };

/**
 * The `PUT /registries` body the rows describe, or every problem the form itself can tell.
 * Empty rows are dropped; hosts, rules and usernames are trimmed, passwords sent exactly as typed.
 * The console checks each row again (host syntax and so on) and its message is shown as is.
 */
export function registriesUpdate(form: RegistriesForm): RegistriesResult {
  const errors: string[] = [];
  const rules: RegistryRule[] = [];
  const froms = new Set<string>();
  form.rules.forEach((row, i) => {
    const from = row.from.trim();
    const to = row.to.trim();
    if (from === '' && to === '') return;
    const name = `Rule ${i + 1}`;
    if (from === '') errors.push(`${name}: enter the registry or image prefix to rewrite (From).`);
    else if (to === '') errors.push(`${name}: enter where ${from} is pulled from instead (To).`);
    else if (froms.has(from)) errors.push(`${name}: ${from} is rewritten twice.`);
    else {
      froms.add(from);
      rules.push({ from, to });
    }
  });

  const credentials: RegistryCredentialUpdate[] = [];
  const hosts = new Set<string>();
  form.credentials.forEach((row, i) => {
    const host = row.host.trim();
    const username = row.username.trim();
    if (host === '' && username === '' && row.password === '') return;
    const name = host === '' ? `Credential ${i + 1}` : `Credential for ${host}`;
    if (host === '') {
      errors.push(`${name}: enter the registry host.`);
      return;
    }
    if (hosts.has(host)) {
      errors.push(`${name}: this host is given twice.`);
      return;
    }
    hosts.add(host);
    if (username === '') errors.push(`${name}: enter the user name.`);
    const keep = row.password === '' && keepsStoredPassword(row);
    if (row.password === '' && !keep) errors.push(`${name}: enter the password; none is stored for this host yet.`);
    credentials.push({ host, username, password: keep ? null : row.password });
  });

  if (errors.length > 0) return { update: null, errors };
  return { update: { rules, credentials }, errors: [] };
}

/** The form differs from what was loaded (a typed password counts as a change). */
export function registriesChanged(form: RegistriesForm, loaded: RegistriesForm): boolean {
  if (form.credentials.some((c) => c.password !== '')) return true;
  const shape = (f: RegistriesForm) =>
    JSON.stringify({
      rules: f.rules.map((r) => [r.from, r.to]),
      credentials: f.credentials.map((c) => [c.host, c.username]),
    });
  return shape(form) !== shape(loaded);
}
