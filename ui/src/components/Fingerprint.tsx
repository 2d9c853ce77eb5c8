import { formatFingerprint } from '../format';
import { CopyButton } from './CopyButton';

interface Props {
  /** The raw hex fingerprint; it is the element's `data-value` and what Copy copies. */
  value: string;
  testId?: string;
  large?: boolean;
}

/** A key fingerprint shown in groups of four, for comparing by eye or reading aloud. */
export function Fingerprint({ value, testId, large = false }: Props) {
  return (
    <div className="fingerprint-row">
      <code
        className={`fingerprint fingerprint-grouped${large ? ' fingerprint-large' : ''}`}
        data-testid={testId}
        data-value={value}
        title={value}
      >
        {formatFingerprint(value)}
      </code>
      <CopyButton text={value} />
    </div>
  );
}
