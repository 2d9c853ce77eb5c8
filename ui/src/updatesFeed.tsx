// The signed-in shell's view of `GET /updates`: read on load and every UPDATES_REFRESH_MS, shared
// with the dashboard card, and replaced at once when a page has a fresher answer ("Check now").

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { api, isAbort, type UpdatesStatus } from './api';
import { UPDATES_REFRESH_MS } from './updates';

export interface UpdatesFeed {
  /** `undefined` until the first answer; stays at the last good answer when a read fails. */
  status: UpdatesStatus | undefined;
  /** The last read failed (shown quietly, if at all: the banner must never break a page). */
  failed: boolean;
  /** A page read a fresher status (after "Check now", or on opening the Updates page). */
  publish(status: UpdatesStatus): void;
  /** Something changed what the status says (a deployment ended): read it again now. */
  refresh(): void;
}

const NOOP_FEED: UpdatesFeed = {
  status: undefined,
  failed: false,
  publish: () => undefined,
  refresh: () => undefined,
};

export const UpdatesFeedContext = createContext<UpdatesFeed>(NOOP_FEED);

export function useUpdatesFeed(): UpdatesFeed {
  return useContext(UpdatesFeedContext);
}

/** Reads `GET /updates` quietly (a 401 here does not sign out) on mount and on a timer. */
export function useUpdatesPoll(): UpdatesFeed {
  const [status, setStatus] = useState<UpdatesStatus | undefined>(undefined);
  const [failed, setFailed] = useState(false);
  const controllerRef = useRef<AbortController | null>(null);
  const loadRef = useRef<(() => void) | null>(null);

  useEffect(() => {
    const load = () => {
      if (controllerRef.current) return; // the previous read is still running
      const controller = new AbortController();
      controllerRef.current = controller;
      api
        .updates(controller.signal, { quiet: true })
        .then(
          (next) => {
            if (controller.signal.aborted) return;
            setStatus(next);
            setFailed(false);
          },
          (e: unknown) => {
            if (!isAbort(e) && !controller.signal.aborted) setFailed(true);
          },
        )
        .finally(() => {
          if (controllerRef.current === controller) controllerRef.current = null;
        });
    };
    loadRef.current = load;
    load();
    const timer = window.setInterval(load, UPDATES_REFRESH_MS);
    return () => {
      loadRef.current = null;
      window.clearInterval(timer);
      controllerRef.current?.abort();
      controllerRef.current = null;
    };
  }, []);

  const publish = useCallback((next: UpdatesStatus) => {
    // A read still running may be older than this answer: drop it.
    controllerRef.current?.abort();
    controllerRef.current = null;
    setStatus(next);
    setFailed(false);
  }, []);

  const refresh = useCallback(() => {
    // A read still running began before the change: start a fresh one.
    controllerRef.current?.abort();
    controllerRef.current = null;
    loadRef.current?.();
  }, []);

  return useMemo(() => ({ status, failed, publish, refresh }), [status, failed, publish, refresh]);
}
