import { useCallback, useEffect, useRef, useState } from 'react';

/** What {@link useAsync} holds: the latest data or error of a loader, and how to run it again. */
export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
}

/**
 * Runs `load` on mount and whenever `load` changes (pass a module function or a `useCallback`); a
 * result that arrives after a newer run started is dropped, so a slow answer never overwrites a fresh one.
 */
export function useAsync<T>(load: () => Promise<T>): AsyncState<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const run = useRef(0);
  const reload = useCallback(async () => {
    const current = ++run.current;
    setLoading(true);
    try {
      const result = await load();
      if (current !== run.current) return;
      setData(result);
      setError(undefined);
    } catch (failure) {
      if (current === run.current) setError(failure);
    } finally {
      if (current === run.current) setLoading(false);
    }
  }, [load]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload };
}
