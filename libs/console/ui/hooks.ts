/**
 * Owns loading a document for a view: one request per change of its inputs, the previous one
 * aborted, with the last good data kept on screen while a refresh runs.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Load<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  /** Reads again, keeping what is on screen until the answer arrives. */
  readonly reload: () => void;
}

/**
 * Runs `fetcher` when `key` changes, aborting a request still in flight. `reload` coalesces: asked
 * while a request runs, it reads once more after that one answers, so a burst of live updates
 * never starves the read by aborting it over and over.
 */
export function useLoad<T>(key: string, fetcher: (signal: AbortSignal) => Promise<T>): Load<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const lastKey = useRef(key);
  const inFlight = useRef(false);
  const dirty = useRef(false);

  useEffect(() => {
    const controller = new AbortController();
    // A new key is another document: do not show the old one as if it were this one.
    const keyChanged = lastKey.current !== key;
    lastKey.current = key;
    inFlight.current = true;
    dirty.current = false;
    setState((previous) => ({ data: keyChanged ? undefined : previous.data, loading: true }));
    const settle = (next: (previous: typeof state) => typeof state) => {
      if (controller.signal.aborted) return;
      inFlight.current = false;
      setState(next);
      if (dirty.current) {
        dirty.current = false;
        setTick((value) => value + 1);
      }
    };
    fetcherRef.current(controller.signal).then(
      (data) => settle(() => ({ data, loading: false })),
      (error: unknown) => settle((previous) => ({ data: previous.data, error, loading: false })),
    );
    return () => {
      controller.abort();
      inFlight.current = false;
    };
  }, [key, tick]);

  const reload = useCallback(() => {
    if (inFlight.current) dirty.current = true;
    else setTick((value) => value + 1);
  }, []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Calls `callback` every `ms` while the page is visible. */
export function useInterval(callback: () => void, ms: number): void {
  const ref = useRef(callback);
  ref.current = callback;
  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') ref.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms]);
}
