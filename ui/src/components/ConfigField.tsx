import type { ChangeEvent, ReactElement } from 'react';
import type { ConfigItem } from '../api';
import { isSecret, type FieldState } from '../configForm';

interface Props {
  item: ConfigItem;
  field: FieldState;
  /** The field's check (only for a changed field), or `null`. */
  error: string | null;
  changed: boolean;
  disabled: boolean;
  onChange(field: FieldState): void;
}

export function configInputId(name: string): string {
  return `config-${name}`;
}

/** One config item: label, help, the input for its type, and its check. */
export function ConfigField({ item, field, error, changed, disabled, onChange }: Props) {
  const id = configInputId(item.name);
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const labelId = `${id}-label`;
  const secret = isSecret(item);
  const describedBy = [item.help ? helpId : null, error ? errorId : null].filter(Boolean).join(' ') || undefined;

  function setText(event: ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) {
    const badInput = event.target instanceof HTMLInputElement && event.target.validity?.badInput === true;
    onChange({ text: event.target.value, clear: false, badInput });
  }

  const common = {
    id,
    disabled,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': describedBy,
    'aria-required': item.required || undefined,
    'data-testid': `config-input-${item.name}`,
  } as const;

  let input: ReactElement;
  if (item.type === 'bool' && !secret) {
    input = (
      <label className="config-switch" htmlFor={id}>
        <input
          {...common}
          type="checkbox"
          role="switch"
          aria-labelledby={labelId}
          checked={field.text === 'true'}
          onChange={(e) => onChange({ text: e.target.checked ? 'true' : 'false', clear: false, badInput: false })}
        />
        <span className="config-switch-text" aria-hidden="true">
          {field.text === 'true' ? 'On' : 'Off'}
        </span>
      </label>
    );
  } else if (item.type === 'select' && !secret) {
    // A stored value that is no longer an option is still shown, so it can be seen and changed.
    const options = field.text !== '' && !item.options.includes(field.text) ? [field.text, ...item.options] : item.options;
    const unset = item.default !== null ? `Default (${item.default})` : item.required ? 'Choose…' : 'Not set';
    input = (
      <select {...common} className="input select" value={field.text} onChange={setText}>
        <option value="">{unset}</option>
        {options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    );
  } else if (item.type === 'textarea') {
    input = (
      <textarea
        {...common}
        className="textarea config-textarea"
        rows={4}
        spellCheck={false}
        autoComplete={secret ? 'off' : undefined}
        placeholder={secret ? (item.is_set ? 'Stored — leave empty to keep' : '') : (item.default ?? '')}
        value={field.text}
        onChange={setText}
      />
    );
  } else if (item.type === 'number' && !secret) {
    input = (
      <input
        {...common}
        className="input config-number"
        type="number"
        inputMode="numeric"
        step={1}
        min={item.min ?? undefined}
        max={item.max ?? undefined}
        placeholder={item.default ?? ''}
        value={field.text}
        onChange={setText}
      />
    );
  } else if (secret) {
    input = (
      <input
        {...common}
        className="input"
        type="password"
        autoComplete="new-password"
        spellCheck={false}
        placeholder={item.is_set ? 'Stored — leave empty to keep' : ''}
        value={field.text}
        onChange={setText}
      />
    );
  } else {
    input = (
      <input
        {...common}
        className="input"
        type="text"
        spellCheck={false}
        placeholder={item.default ?? ''}
        value={field.text}
        onChange={setText}
      />
    );
  }

  const range =
    item.type === 'number' && (item.min !== null || item.max !== null)
      ? item.min !== null && item.max !== null
        ? `${item.min} to ${item.max}`
        : item.min !== null
          ? `at least ${item.min}`
          : `at most ${item.max}`
      : null;

  return (
    <div
      className={`config-item${changed ? ' config-item-changed' : ''}${error ? ' config-item-invalid' : ''}`}
      data-testid="config-item"
      data-item={item.name}
      data-type={item.type}
      data-changed={changed ? 'true' : 'false'}
    >
      <div className="config-item-header">
        <label className="label config-label" htmlFor={id} id={labelId}>
          {item.title}
        </label>
        {item.required ? (
          <span className="config-required" title="Required" data-testid="config-required">
            <span aria-hidden="true">*</span>
            <span className="visually-hidden">(required)</span>
          </span>
        ) : null}
        <span className="mono muted small config-name">{item.name}</span>
        {changed ? <span className="badge badge-warn config-changed">Changed</span> : null}
      </div>
      {input}
      {item.help ? (
        <p className="hint" id={helpId} data-testid="config-item-help">
          {item.help}
        </p>
      ) : null}
      {range ? <p className="hint">Allowed: {range}.</p> : null}
      {item.type === 'bool' && item.default !== null && item.value === null ? (
        <p className="hint">Default: {item.default === 'true' ? 'on' : 'off'}.</p>
      ) : null}
      {secret ? <SecretState item={item} field={field} disabled={disabled} onChange={onChange} /> : null}
      {error ? (
        <p className="config-item-error" id={errorId} data-testid="config-item-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** "A value is stored" with Clear / Undo for a secret item; the value itself is never shown. */
function SecretState({
  item,
  field,
  disabled,
  onChange,
}: Pick<Props, 'item' | 'field' | 'disabled' | 'onChange'>) {
  if (!item.is_set) {
    return <p className="hint">Nothing is stored yet.</p>;
  }
  if (field.clear && field.text === '') {
    return (
      <p className="hint config-secret-state" data-testid="config-secret-cleared">
        The stored value will be cleared when you save.{' '}
        <button
          type="button"
          className="link-button"
          disabled={disabled}
          onClick={() => onChange({ text: '', clear: false, badInput: false })}
          data-testid="config-secret-undo"
        >
          Undo
        </button>
      </p>
    );
  }
  return (
    <p className="hint config-secret-state" data-testid="config-secret-stored">
      {field.text === ''
        ? 'A value is stored. Leave this empty to keep it, or type a new one to replace it.'
        : 'A value is stored; saving replaces it with what you typed.'}{' '}
      <button
        type="button"
        className="link-button"
        disabled={disabled}
        onClick={() => onChange({ text: '', clear: true, badInput: false })}
        data-testid="config-secret-clear"
      >
        Clear
      </button>
    </p>
  );
}
