import { type RefObject, useEffect, useRef } from 'react';

/** Calls `onVisible` whenever the returned element scrolls into view (endless lists). */
export function useOnVisible<E extends Element>(
  onVisible: () => void,
  enabled: boolean,
): RefObject<E | null> {
  const ref = useRef<E>(null);
  const callback = useRef(onVisible);
  callback.current = onVisible;
  useEffect(() => {
    const element = ref.current;
    if (!element || !enabled) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) callback.current();
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [enabled]);
  return ref;
}
