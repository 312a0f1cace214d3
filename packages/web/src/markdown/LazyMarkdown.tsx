import { lazy, Suspense } from 'react';

const MarkdownView = lazy(() => import('./MarkdownView'));

/** Markdown, rendered once the renderer chunk has loaded (plain text until then). */
export function LazyMarkdown({ source }: { source: string }) {
  return (
    <Suspense fallback={<div className="markdown markdown-plain">{source}</div>}>
      <MarkdownView source={source} />
    </Suspense>
  );
}
