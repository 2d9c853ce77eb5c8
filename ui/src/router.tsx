// A tiny client-side router over history.pushState.

import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

export interface Location {
  pathname: string;
  search: string;
  /** `history.state` of the current entry (e.g. a notice passed to the login page). */
  state: unknown;
}

const listeners = new Set<() => void>();
let current: Location | null = null;

function read(): Location {
  return {
    pathname: window.location.pathname,
    search: window.location.search,
    state: window.history.state as unknown,
  };
}

function notify(): void {
  current = read();
  for (const listener of listeners) listener();
}

let popstateBound = false;

function subscribe(listener: () => void): () => void {
  if (!popstateBound && typeof window !== 'undefined') {
    window.addEventListener('popstate', notify);
    popstateBound = true;
  }
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

export function getLocation(): Location {
  const fresh = read();
  if (
    current === null ||
    current.pathname !== fresh.pathname ||
    current.search !== fresh.search ||
    current.state !== fresh.state
  ) {
    current = fresh;
  }
  return current;
}

export interface NavigateOptions {
  replace?: boolean;
  state?: unknown;
}

export function navigate(to: string, options: NavigateOptions = {}): void {
  const state = options.state ?? null;
  if (options.replace) window.history.replaceState(state, '', to);
  else window.history.pushState(state, '', to);
  notify();
  if (!options.replace) window.scrollTo?.(0, 0);
}

export function useLocation(): Location {
  return useSyncExternalStore(subscribe, getLocation, getLocation);
}

/** A same-origin path that is safe to return to after login (no open redirect). */
export function safeReturnPath(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return null;
  if (value.startsWith('/login') || value.startsWith('/setup') || value.startsWith('/api/')) return null;
  return value;
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string };

export function Link({ to, onClick, ...rest }: LinkProps) {
  function handleClick(event: MouseEvent<HTMLAnchorElement>) {
    onClick?.(event);
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey ||
      (rest.target && rest.target !== '_self')
    ) {
      return;
    }
    event.preventDefault();
    navigate(to);
  }
  return <a href={to} onClick={handleClick} {...rest} />;
}
