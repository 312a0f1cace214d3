import { Component, type ReactNode } from 'react';

/**
 * Shows `fallback` instead of a subtree that threw while rendering (a lazy chunk that failed to load
 * after a redeploy, say), so one broken part never blanks the whole page.
 */
export class ErrorBoundary extends Component<
  { fallback: (error: unknown) => ReactNode; children: ReactNode },
  { error: unknown }
> {
  override state: { error: unknown } = { error: undefined };

  static getDerivedStateFromError(error: unknown): { error: unknown } {
    return { error: error ?? new Error('rendering failed') };
  }

  override render(): ReactNode {
    return this.state.error === undefined ? this.props.children : this.props.fallback(this.state.error);
  }
}
