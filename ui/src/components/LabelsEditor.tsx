import { newLabelRow, type LabelRow } from '../labels';

interface Props {
  rows: LabelRow[];
  onChange(rows: LabelRow[]): void;
  disabled?: boolean;
  /** Shown when there are no rows. */
  emptyText?: string;
}

/** Key/value rows with Add and Remove; the caller turns them into a label map (`labelsFromRows`). */
export function LabelsEditor({ rows, onChange, disabled = false, emptyText = 'No labels.' }: Props) {
  function update(id: number, patch: Partial<Pick<LabelRow, 'key' | 'value'>>) {
    onChange(rows.map((row) => (row.id === id ? { ...row, ...patch } : row)));
  }

  return (
    <div className="label-editor">
      {rows.length === 0 ? <p className="muted small label-editor-empty">{emptyText}</p> : null}
      {rows.map((row, index) => (
        <div className="label-row" key={row.id} data-testid="label-row">
          <input
            className="input input-small mono"
            aria-label={`Label ${index + 1} key`}
            placeholder="key"
            spellCheck={false}
            autoComplete="off"
            value={row.key}
            disabled={disabled}
            onChange={(e) => update(row.id, { key: e.target.value })}
            data-testid="label-key"
          />
          <span className="label-eq" aria-hidden="true">
            =
          </span>
          <input
            className="input input-small mono"
            aria-label={`Label ${index + 1} value`}
            placeholder="value"
            spellCheck={false}
            autoComplete="off"
            value={row.value}
            disabled={disabled}
            onChange={(e) => update(row.id, { value: e.target.value })}
            data-testid="label-value"
          />
          <button
            type="button"
            className="btn btn-small btn-ghost"
            aria-label={`Remove label ${index + 1}${row.key ? ` (${row.key})` : ''}`}
            disabled={disabled}
            onClick={() => onChange(rows.filter((r) => r.id !== row.id))}
            data-testid="label-remove"
          >
            Remove
          </button>
        </div>
      ))}
      <div>
        <button
          type="button"
          className="btn btn-small btn-secondary"
          disabled={disabled}
          onClick={() => onChange([...rows, newLabelRow()])}
          data-testid="label-add"
        >
          Add label
        </button>
      </div>
    </div>
  );
}
