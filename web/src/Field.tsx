// A form's pieces: a labelled input with its hint and the API's errors for that field right
// beneath it, the form's own error, the errors' state, which moves focus to what was refused,
// and a submit that is busy while its request runs.
import type { JSX, RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

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

const PHONE_HINT = 'With the country code, for example +44 7700 900123.';

/** The phone number input of the sign-up and profile forms; `hint` adds to the format hint. */
export function PhoneField({ label, value, onInput, errors, hint }: Pick<FieldProps, 'label' | 'value' | 'onInput' | 'errors' | 'hint'>) {
  return (
    <Field id="phone_number" label={label} type="tel" value={value} onInput={onInput} errors={errors} autoComplete="tel" hint={hint ? `${PHONE_HINT} ${hint}` : PHONE_HINT} />
  );
}

/** The form's own message (errors of fields it does not show, or of the request as a whole). */
export function FormError({ errors }: { errors: FormErrors }) {
  return (
    errors.general && (
      <p class="form-error" role="alert" tabIndex={-1}>
        {errors.general}
      </p>
    )
  );
}

export interface FormErrors {
  fields: Record<string, string[]>;
  general: string | null;
}

export const NO_ERRORS: FormErrors = { fields: {}, general: null };

/** What a failed request says to a form showing the fields `shown`. */
export function errorsOf(error: unknown, shown: string[]): FormErrors {
  return error instanceof ApiError ? formErrors(error, shown) : { fields: {}, general: 'Something went wrong. Try again.' };
}

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

/**
 * A form's errors, and the ref its <form> takes: each time errors are set, focus moves to the
 * first field the server refused (else to the form's message), so keyboard and screen reader
 * users land on it.
 */
export function useFormErrors(): [FormErrors, (errors: FormErrors) => void, RefObject<HTMLFormElement>] {
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (errors === NO_ERRORS) return;
    const invalid = form.current?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? form.current?.querySelector<HTMLElement>('[role="alert"]');
    invalid?.focus();
  }, [errors]);
  return [errors, setErrors, form];
}

export interface Submitting {
  errors: FormErrors;
  form: RefObject<HTMLFormElement>;
  busy: boolean;
  /** Runs a request, busy meanwhile: its failure becomes the form's errors (`shown` beside their fields), its success clears them. */
  run: (work: () => Promise<void>) => Promise<void>;
}

export function useSubmit(shown: string[]): Submitting {
  const [errors, setErrors, form] = useFormErrors();
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    try {
      await work();
      setErrors(NO_ERRORS);
    } catch (error) {
      setErrors(errorsOf(error, shown));
    } finally {
      setBusy(false);
    }
  };
  return { errors, form, busy, run };
}
