// A labelled input with its hint and the API's errors for that field right beneath it.
import type { JSX } from 'preact';

interface FieldProps {
  id: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
  errors?: string[] | undefined;
  hint?: string;
  type?: string;
  autoComplete?: string;
  inputMode?: JSX.HTMLAttributes<HTMLInputElement>['inputMode'];
  required?: boolean;
}

export function Field({ id, label, value, onInput, errors, hint, type = 'text', autoComplete, inputMode, required }: FieldProps) {
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = errors?.length ? `${id}-errors` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        name={id}
        type={type}
        value={value}
        onInput={(event) => onInput(event.currentTarget.value)}
        autoComplete={autoComplete}
        inputMode={inputMode}
        required={required}
        aria-invalid={errorId ? 'true' : undefined}
        aria-describedby={describedBy}
        autoCapitalize="none"
        spellcheck={false}
      />
      {hint && (
        <p id={hintId} class="hint">
          {hint}
        </p>
      )}
      {errorId && (
        <ul id={errorId} class="field-errors">
          {errors!.map((error) => (
            <li key={error}>{error}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export interface FormErrors {
  fields: Record<string, string[]>;
  general: string | null;
}

export const NO_ERRORS: FormErrors = { fields: {}, general: null };

/** The API's field errors for the fields the form shows; anything else becomes the form's own message. */
export function formErrors(error: { detail: string; fields: Record<string, string[]> }, shown: string[]): FormErrors {
  const fields: Record<string, string[]> = {};
  const other: string[] = [];
  for (const [name, messages] of Object.entries(error.fields)) {
    if (shown.includes(name)) fields[name] = messages;
    else other.push(...messages);
  }
  const general = other.length ? other.join(' ') : Object.keys(fields).length ? null : error.detail;
  return { fields, general };
}

/** Moves focus to the first field the server refused, so keyboard and screen reader users land on it. */
export function focusFirstInvalid(form: HTMLFormElement | null): void {
  const invalid = form?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? form?.querySelector<HTMLElement>('[role="alert"]');
  invalid?.focus();
}
