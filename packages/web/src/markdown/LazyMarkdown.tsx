import { lazy, Suspense } from 'react';
import { ErrorBoundary } from '../ui/ErrorBoundary';

const MarkdownView = lazy(() => import('./MarkdownView'));

/** Markdown, rendered once the renderer chunk has loaded (plain text until then, or if it cannot load). */
export function LazyMarkdown({ source }: { source: string }) {
  const plain = <div className="markdown markdown-plain">{source}</div>;
  return (
    <ErrorBoundary fallback={() => plain}>
      <Suspense fallback={plain}>
        <MarkdownView source={source} />
      </Suspense>
    </ErrorBoundary>
  );
}
