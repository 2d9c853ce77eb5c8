import type { ReactNode } from 'react';
import logoUrl from '../assets/logo.svg';

/** Centred card for the pages shown without a session (setup, login). */
export function AuthCard({ title, subtitle, children }: { title: string; subtitle?: string; children: ReactNode }) {
  return (
    <div className="auth-screen">
      <main className="auth-card">
        <div className="auth-brand">
          <img src={logoUrl} alt="" width={28} height={28} />
          <span>Outpost</span>
        </div>
        <h1 className="auth-title">{title}</h1>
        {subtitle ? <p className="auth-subtitle">{subtitle}</p> : null}
        {children}
      </main>
    </div>
  );
}
