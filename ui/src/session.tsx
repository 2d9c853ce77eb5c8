import { createContext, useContext } from 'react';
import type { Session } from './api';

export interface SessionContextValue {
  session: Session | null;
  /** Store a fresh session (after login). */
  signedIn(session: Session): void;
  /** Forget the session and go to the login page, optionally with a notice. */
  signedOut(notice?: string): void;
}

export const SessionContext = createContext<SessionContextValue | null>(null);

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside of <SessionContext>');
  return value;
}

/** What pages put in `history.state` when they send the user to /login. */
export interface LoginState {
  notice?: string;
  from?: string;
}

export function readLoginState(state: unknown): LoginState {
  if (typeof state !== 'object' || state === null) return {};
  const { notice, from } = state as { notice?: unknown; from?: unknown };
  return {
    notice: typeof notice === 'string' ? notice : undefined,
    from: typeof from === 'string' ? from : undefined,
  };
}
