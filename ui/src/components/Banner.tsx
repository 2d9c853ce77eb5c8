import type { ReactNode } from 'react';

export type BannerKind = 'error' | 'warning' | 'success' | 'info';

interface BannerProps {
  kind: BannerKind;
  title?: string;
  children: ReactNode;
  testId?: string;
}

export function Banner({ kind, title, children, testId }: BannerProps) {
  const role = kind === 'error' || kind === 'warning' ? 'alert' : 'status';
  return (
    <div className={`banner banner-${kind}`} role={role} data-testid={testId}>
      {title ? <strong className="banner-title">{title}</strong> : null}
      <div className="banner-body">{children}</div>
    </div>
  );
}
