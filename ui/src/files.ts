// Reading a chosen file into a text field.

/** The text of `file`; refused with `tooLarge` when it is over `maxBytes`. */
export function readTextFile(file: File, maxBytes: number, tooLarge: string): Promise<string> {
  if (file.size > maxBytes) return Promise.reject(new Error(tooLarge));
  if (typeof file.text === 'function') return file.text();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result ?? ''));
    reader.onerror = () => reject(reader.error ?? new Error(`${file.name} could not be read.`));
    reader.readAsText(file);
  });
}
