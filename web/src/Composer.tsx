// Writing a message: Enter sends, Shift+Enter starts a new line (and Enter while an input
// method is composing belongs to the input method).
import { useEffect, useRef, useState } from 'preact/hooks';

const MAX_LENGTH = 10_000;

export function Composer({ to, onSend, onTyping }: { to: string; onSend: (text: string) => void; onTyping: () => void }) {
  const [text, setText] = useState('');
  const input = useRef<HTMLTextAreaElement>(null);

  useEffect(() => input.current?.focus(), []);

  const submit = () => {
    const message = text.trim();
    if (!message) return;
    onSend(message);
    setText('');
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    submit();
  };

  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <label for="composer-input" class="sr-only">
        Message to {to}
      </label>
      <textarea
        id="composer-input"
        ref={input}
        rows={1}
        dir="auto"
        maxLength={MAX_LENGTH}
        placeholder={`Message ${to}`}
        value={text}
        onInput={(event) => {
          setText(event.currentTarget.value);
          if (event.currentTarget.value.trim()) onTyping();
        }}
        onKeyDown={onKeyDown}
        aria-describedby="composer-hint"
      />
      <p id="composer-hint" class="sr-only">
        Enter sends; Shift+Enter starts a new line.
      </p>
      <button type="submit" disabled={!text.trim()}>
        Send
      </button>
    </form>
  );
}
