// The top of a view in the main pane: the way back to the conversations (shown on narrow
// screens, where the list is hidden), the view's title, and what the view adds beside it.
import type { ComponentChildren } from 'preact';

export function PaneHeader({ titleId, title, children }: { titleId: string; title: string; children?: ComponentChildren }) {
  return (
    <header class="pane-header">
      <a class="back" href="/">
        <span aria-hidden="true">‹</span> Conversations
      </a>
      <h2 id={titleId} dir="auto">
        {title}
      </h2>
      {children}
    </header>
  );
}
