// The Config page's form: what each field holds, what a save sends, and the checks made before
// sending. The checks mirror the console's (`ConfigItem::check_value`) where that is obvious; the
// console checks every value again and is the one that decides.

import type { ConfigInfo, ConfigItem, ConfigValues } from './api';

/** What one field holds while the admin edits it. */
export interface FieldState {
  /**
   * The field's text: `"true"`/`"false"` for a bool; for a secret item only a *new* value
   * (a stored secret is never put into the form).
   */
  text: string;
  /** Secret items: clear the stored value on save (sends `null`). */
  clear: boolean;
  /** Number items: the browser could not read what was typed as a number. */
  badInput: boolean;
}

export type FormState = Record<string, FieldState>;

/** Secret values are never shown: the field starts empty and an empty field keeps what is stored. */
export function isSecret(item: ConfigItem): boolean {
  return item.secret || item.type === 'password';
}

export function items(config: ConfigInfo): ConfigItem[] {
  return config.groups.flatMap((g) => g.items);
}

/** A bool's displayed state: its stored value, else its default, else off. */
function boolText(item: ConfigItem): string {
  return (item.value ?? item.default) === 'true' ? 'true' : 'false';
}

/** The text a field starts with. The default is not filled in: it is the field's placeholder. */
export function initialText(item: ConfigItem): string {
  if (isSecret(item)) return '';
  if (item.type === 'bool') return boolText(item);
  return item.value ?? '';
}

export function initialField(item: ConfigItem): FieldState {
  return { text: initialText(item), clear: false, badInput: false };
}

export function initialForm(config: ConfigInfo): FormState {
  const form: FormState = {};
  for (const item of items(config)) form[item.name] = initialField(item);
  return form;
}

/** No change: the item is left out of the PUT and keeps its value. */
export const UNCHANGED = Symbol('unchanged');

/**
 * What a save sends for this item: a string, `null` (clear it), or `UNCHANGED`.
 * - a secret: the new text when one was typed, `null` after "Clear", else nothing;
 * - a bool: `"true"`/`"false"` when it differs from what was shown;
 * - anything else: the text when it differs from the stored value, `null` when it was emptied
 *   (the item then falls back to its default).
 */
export function changeFor(item: ConfigItem, field: FieldState | undefined): string | null | typeof UNCHANGED {
  if (!field) return UNCHANGED;
  if (isSecret(item)) {
    if (field.text !== '') return field.text;
    return field.clear && item.is_set ? null : UNCHANGED;
  }
  if (field.text === initialText(item) && !field.badInput) return UNCHANGED;
  if (item.type === 'bool') return field.text;
  return field.text === '' ? null : field.text;
}

export function isChanged(item: ConfigItem, field: FieldState | undefined): boolean {
  return changeFor(item, field) !== UNCHANGED;
}

/** The body of `PUT /app/config`: only the changed items. */
export function changedValues(config: ConfigInfo, form: FormState): ConfigValues {
  const values: ConfigValues = {};
  for (const item of items(config)) {
    const change = changeFor(item, form[item.name]);
    if (change !== UNCHANGED) values[item.name] = change;
  }
  return values;
}

export function changeCount(config: ConfigInfo, form: FormState): number {
  return items(config).filter((item) => isChanged(item, form[item.name])).length;
}

const WHOLE_NUMBER = /^[+-]?\d+$/;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function bound(value: number | null): bigint | null {
  return value !== null && Number.isSafeInteger(value) ? BigInt(value) : null;
}

function rangeText(min: bigint | null, max: bigint | null): string {
  if (min !== null && max !== null) return `Enter a whole number from ${min} to ${max}.`;
  if (min !== null) return `Enter a whole number of at least ${min}.`;
  return `Enter a whole number of at most ${max}.`;
}

/** The item's pattern as a JavaScript RegExp, or `null` when there is none or it does not compile here. */
export function compilePattern(pattern: string | null): RegExp | null {
  if (pattern === null || pattern === '') return null;
  try {
    return new RegExp(pattern, 'u');
  } catch {
    // Rust regex syntax JavaScript does not know (e.g. `(?i)`): the console checks it.
    return null;
  }
}

/**
 * Why `value` would be refused for `item`, or `null`. `value` is what a save sends
 * (`null` clears the item).
 */
export function checkValue(item: ConfigItem, value: string | null): string | null {
  if (value === null || value === '') return item.required ? 'A value is required.' : null;
  switch (item.type) {
    case 'bool':
      if (value !== 'true' && value !== 'false') return 'Expected true or false.';
      break;
    case 'number': {
      if (!WHOLE_NUMBER.test(value)) return 'Enter a whole number.';
      const n = BigInt(value);
      if (n < I64_MIN || n > I64_MAX) return 'The number is too large.';
      const min = bound(item.min);
      const max = bound(item.max);
      if ((min !== null && n < min) || (max !== null && n > max)) return rangeText(min, max);
      break;
    }
    case 'select':
      if (!item.options.includes(value)) return 'Choose one of the options.';
      break;
    default:
      break;
  }
  if (item.type === 'text' || item.type === 'password' || item.type === 'textarea') {
    const regex = compilePattern(item.regex);
    if (regex && !regex.test(value)) return item.regex_message ?? 'The value does not have the expected format.';
  }
  return null;
}

/**
 * The check for one field. Changed fields are checked as they would be sent; an unchanged one
 * only when it is required and has neither a stored value nor a default (the console refuses
 * every save until it is set, so it is flagged on its field at once).
 */
export function fieldError(item: ConfigItem, field: FieldState | undefined): string | null {
  if (field?.badInput) return 'Enter a whole number.';
  const change = changeFor(item, field);
  if (change === UNCHANGED) {
    const missing = item.required && !item.is_set && (item.default ?? '') === '';
    return missing ? 'A value is required.' : null;
  }
  return checkValue(item, change);
}

/** Errors by item name, for the changed fields that would be refused. */
export function formErrors(config: ConfigInfo, form: FormState): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const item of items(config)) {
    const error = fieldError(item, form[item.name]);
    if (error !== null) errors[item.name] = error;
  }
  return errors;
}

/** The release picker's text for a release: `1.1.0 (sequence 2)`. */
export function releaseLabel(version: string, sequence: number): string {
  return version ? `${version} (sequence ${sequence})` : `Sequence ${sequence}`;
}
