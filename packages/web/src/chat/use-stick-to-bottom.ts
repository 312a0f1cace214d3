import { type RefObject, useCallback, useLayoutEffect, useRef } from 'react';

/** How close to the bottom (px) still counts as "reading the newest". */
const NEAR_BOTTOM_PX = 80;

/**
 * Keeps a scrolling element at its bottom as content grows (a streamed answer), unless the reader
 * scrolled up to read older messages. Returns the element's ref and its `onScroll` handler.
 */
export function useStickToBottom<E extends HTMLElement>(
  contentVersion: unknown,
): { ref: RefObject<E | null>; onScroll: () => void } {
  const ref = useRef<E>(null);
  const stuck = useRef(true);
  const onScroll = useCallback(() => {
    const element = ref.current;
    if (element)
      stuck.current = element.scrollHeight - element.scrollTop - element.clientHeight < NEAR_BOTTOM_PX;
  }, []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs whenever the content changes
  useLayoutEffect(() => {
    const element = ref.current;
    if (element && stuck.current) element.scrollTop = element.scrollHeight;
  }, [contentVersion]);
  return { ref, onScroll };
}
