import { useDeferredValue, useLayoutEffect, useMemo, useRef } from 'react';
import { copyText } from '../ui/CopyButton';
import { renderMarkdown } from './render-markdown';

/** Gives each code block a "Copy code" button (added after the sanitised HTML is in the page). */
function addCopyButtons(container: HTMLElement): void {
  for (const pre of container.querySelectorAll('pre')) {
    if (pre.parentElement?.classList.contains('code-block')) continue;
    const wrapper = document.createElement('div');
    wrapper.className = 'code-block';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button-small code-copy';
    button.textContent = 'Copy code';
    button.addEventListener('click', () => {
      void copyText(pre.textContent ?? '').then((copied) => {
        button.textContent = copied ? 'Copied' : 'Copy failed';
        setTimeout(() => {
          button.textContent = 'Copy code';
        }, 2000);
      });
    });
    pre.replaceWith(wrapper);
    wrapper.append(button, pre);
  }
}

/** Markdown as sanitised HTML with highlighted, copyable code blocks. Lazy-loaded: see `LazyMarkdown`. */
export default function MarkdownView({ source }: { source: string }) {
  // While an answer streams in, rendering may lag a part behind rather than block typing.
  const deferred = useDeferredValue(source);
  const html = useMemo(() => renderMarkdown(deferred), [deferred]);
  const container = useRef<HTMLDivElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the buttons go into the HTML React just set
  useLayoutEffect(() => {
    if (container.current) addCopyButtons(container.current);
  }, [html]);
  // biome-ignore lint/security/noDangerouslySetInnerHtml: sanitised by DOMPurify in renderMarkdown
  return <div className="markdown" ref={container} dangerouslySetInnerHTML={{ __html: html }} />;
}
