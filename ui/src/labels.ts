// Node labels as editable key/value rows.

export interface LabelRow {
  /** Stable React key for the row (not sent). */
  id: number;
  key: string;
  value: string;
}

let nextRowId = 1;

export function newLabelRow(key = '', value = ''): LabelRow {
  return { id: nextRowId++, key, value };
}

/** Rows for a label map, sorted by key. */
export function labelRows(labels: Record<string, string>): LabelRow[] {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => newLabelRow(key, value));
}

export type LabelsResult = { labels: Record<string, string>; error: null } | { labels: null; error: string };

/**
 * The label map the rows describe. Rows with neither key nor value are ignored; keys and values
 * are trimmed. Only what the form itself can tell is checked here (a value without a key, a key
 * given twice); the console checks the characters and lengths and its message is shown as is.
 */
export function labelsFromRows(rows: LabelRow[]): LabelsResult {
  const labels: Record<string, string> = {};
  for (const row of rows) {
    const key = row.key.trim();
    const value = row.value.trim();
    if (key === '' && value === '') continue;
    if (key === '') return { labels: null, error: `The label with the value "${value}" has no key.` };
    if (Object.prototype.hasOwnProperty.call(labels, key)) {
      return { labels: null, error: `The label key "${key}" is given twice.` };
    }
    labels[key] = value;
  }
  return { labels, error: null };
}
