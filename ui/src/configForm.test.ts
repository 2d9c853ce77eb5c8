import { describe, expect, it } from 'vitest';
import { toConfigInfo, type ConfigItem } from './api';
import {
  changedValues,
  changeFor,
  checkValue,
  compilePattern,
  fieldError,
  initialField,
  initialForm,
  releaseLabel,
  UNCHANGED,
} from './configForm';

function item(fields: Partial<ConfigItem>): ConfigItem {
  return {
    name: 'x',
    title: 'X',
    type: 'text',
    help: '',
    required: false,
    default: null,
    options: [],
    min: null,
    max: null,
    regex: null,
    regex_message: null,
    value: null,
    is_set: false,
    secret: false,
    ...fields,
  };
}

describe('checkValue', () => {
  it('refuses an empty value only when required', () => {
    expect(checkValue(item({ required: true }), null)).toBe('A value is required.');
    expect(checkValue(item({ required: true }), '')).toBe('A value is required.');
    expect(checkValue(item({}), null)).toBeNull();
  });

  it('takes whole numbers within the range, as the console does (i64)', () => {
    const n = item({ type: 'number', min: 1, max: 16 });
    expect(checkValue(n, '1')).toBeNull();
    expect(checkValue(n, '+16')).toBeNull();
    expect(checkValue(n, '0')).toBe('Enter a whole number from 1 to 16.');
    expect(checkValue(n, '1.5')).toBe('Enter a whole number.');
    expect(checkValue(n, ' 3')).toBe('Enter a whole number.');
    expect(checkValue(item({ type: 'number', min: -5 }), '-6')).toBe('Enter a whole number of at least -5.');
    expect(checkValue(item({ type: 'number', max: 10 }), '11')).toBe('Enter a whole number of at most 10.');
    expect(checkValue(item({ type: 'number' }), '9223372036854775807')).toBeNull();
    expect(checkValue(item({ type: 'number' }), '9223372036854775808')).toBe('The number is too large.');
  });

  it('takes only listed options and true/false', () => {
    expect(checkValue(item({ type: 'select', options: ['a', 'b'] }), 'b')).toBeNull();
    expect(checkValue(item({ type: 'select', options: ['a', 'b'] }), 'c')).toBe('Choose one of the options.');
    expect(checkValue(item({ type: 'bool' }), 'true')).toBeNull();
    expect(checkValue(item({ type: 'bool' }), 'yes')).toBe('Expected true or false.');
  });

  it('checks a pattern that compiles in JavaScript and leaves others to the console', () => {
    const re = item({ regex: '^[a-z]+$', regex_message: 'lower-case letters' });
    expect(checkValue(re, 'abc')).toBeNull();
    expect(checkValue(re, 'aBc')).toBe('lower-case letters');
    expect(checkValue(item({ regex: '^\\d+$' }), 'x')).toBe('The value does not have the expected format.');
    // Unanchored, like the console's regex.
    expect(checkValue(item({ regex: '[0-9]' }), 'a1b')).toBeNull();
    // Rust-only syntax: not judged here.
    expect(compilePattern('(?i)abc')).toBeNull();
    expect(checkValue(item({ regex: '(?i)abc' }), 'zzz')).toBeNull();
    expect(checkValue(item({ type: 'password', regex: '.{8,}', regex_message: 'at least 8' }), 'short')).toBe(
      'at least 8',
    );
  });
});

describe('fieldError', () => {
  it('flags an untouched required item with nothing stored and no default, and only that', () => {
    const password = item({ type: 'password', secret: true, required: true });
    expect(fieldError(password, undefined)).toBe('A value is required.');
    expect(fieldError({ ...password, is_set: true }, undefined)).toBeNull();
    expect(fieldError(item({ required: true, default: 'hello' }), undefined)).toBeNull();
    expect(fieldError(item({}), undefined)).toBeNull();
  });
});

describe('changes', () => {
  it('sends text changes, null for an emptied field, bools as text, and leaves secrets out unless typed or cleared', () => {
    const text = item({ name: 'a', value: 'v', is_set: true });
    expect(changeFor(text, { ...initialField(text) })).toBe(UNCHANGED);
    expect(changeFor(text, { text: 'w', clear: false, badInput: false })).toBe('w');
    expect(changeFor(text, { text: '', clear: false, badInput: false })).toBeNull();

    const flag = item({ name: 'b', type: 'bool', default: 'true' });
    expect(initialField(flag).text).toBe('true');
    expect(changeFor(flag, { text: 'false', clear: false, badInput: false })).toBe('false');

    const secret = item({ name: 'c', type: 'password', secret: true, is_set: true });
    expect(initialField(secret).text).toBe('');
    expect(changeFor(secret, initialField(secret))).toBe(UNCHANGED);
    expect(changeFor(secret, { text: 's', clear: false, badInput: false })).toBe('s');
    expect(changeFor(secret, { text: '', clear: true, badInput: false })).toBeNull();
    expect(changeFor({ ...secret, is_set: false }, { text: '', clear: true, badInput: false })).toBe(UNCHANGED);
  });

  it('builds the PUT body from the changed items only', () => {
    const config = toConfigInfo({
      sequence: 3,
      version: '2.0.0',
      groups: [
        {
          name: 'g',
          title: 'G',
          description: '',
          items: [
            { name: 'a', title: 'A', type: 'text', value: 'x', is_set: true },
            { name: 'b', title: 'B', type: 'password', value: 'leaked', is_set: true, secret: true },
            { name: 'c', title: 'C', type: 'number', value: 5, is_set: true },
          ],
        },
      ],
    });
    // A secret's value never reaches the page, even if the console sent one.
    expect(config.groups[0].items[1].value).toBeNull();
    expect(config.groups[0].items[2].value).toBe('5');
    const form = initialForm(config);
    expect(changedValues(config, form)).toEqual({});
    form.c = { text: '6', clear: false, badInput: false };
    expect(changedValues(config, form)).toEqual({ c: '6' });
  });
});

it('labels a release as "version (sequence N)"', () => {
  expect(releaseLabel('1.1.0', 2)).toBe('1.1.0 (sequence 2)');
});
