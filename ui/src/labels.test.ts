import { describe, expect, it } from 'vitest';
import { labelRows, labelsFromRows, newLabelRow } from './labels';

describe('labels', () => {
  it('turns a label map into sorted rows and back', () => {
    const rows = labelRows({ zone: 'b', region: 'eu' });
    expect(rows.map((r) => [r.key, r.value])).toEqual([
      ['region', 'eu'],
      ['zone', 'b'],
    ]);
    expect(new Set(rows.map((r) => r.id)).size).toBe(2);
    expect(labelsFromRows(rows)).toEqual({ labels: { region: 'eu', zone: 'b' }, error: null });
  });

  it('trims, skips empty rows and allows empty values', () => {
    const rows = [newLabelRow(' role ', ' db '), newLabelRow('', ''), newLabelRow('gpu', '')];
    expect(labelsFromRows(rows)).toEqual({ labels: { role: 'db', gpu: '' }, error: null });
  });

  it('refuses a value without key and a key given twice', () => {
    expect(labelsFromRows([newLabelRow('', 'eu')]).error).toMatch(/has no key/);
    expect(labelsFromRows([newLabelRow('a', '1'), newLabelRow('a', '2')]).error).toMatch(/"a" is given twice/);
  });
});
