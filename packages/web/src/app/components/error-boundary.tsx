/** A view that throws while rendering shows what went wrong instead of a blank page. */
import { Component, type ReactNode } from 'react';
import { ErrorState } from './states.tsx';

export class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error): { error: Error } {
    return { error };
  }

  override render(): ReactNode {
    if (this.state.error) {
      return <ErrorState title="This view failed" message={`${this.state.error.message}. Reload the page; if it happens again, report it with this message.`} onRetry={() => this.setState({ error: null })} />;
    }
    return this.props.children;
  }
}
