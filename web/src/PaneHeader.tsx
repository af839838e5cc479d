// The top of a view in the main pane: the way back to the conversations (shown on narrow
// screens, where the list is hidden), the view's title with a line beneath it when the view has
// one, and what the view adds beside them.
import type { ComponentChildren } from 'preact';

interface PaneHeaderProps {
  titleId: string;
  title: string;
  subtitle?: ComponentChildren;
  children?: ComponentChildren;
}

export function PaneHeader({ titleId, title, subtitle, children }: PaneHeaderProps) {
  return (
    <header class="pane-header">
      <a class="back" href="/">
        <span aria-hidden="true">‹</span> <span class="back-label">Conversations</span>
      </a>
      <div class="pane-title">
        <h2 id={titleId} dir="auto">
          {title}
        </h2>
        {subtitle}
      </div>
      {children}
    </header>
  );
}
