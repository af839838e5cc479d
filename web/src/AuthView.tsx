// Log in or create an account; the API's field errors appear beside their fields.
import { useEffect, useRef, useState } from 'preact/hooks';
import { Api, ApiError } from './api.js';
import { Field, focusFirstInvalid, formErrors, NO_ERRORS, type FormErrors } from './Field.js';
import type { Session } from './session.js';

type Mode = 'login' | 'register';

export function AuthView({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [mode, setMode] = useState<Mode>('login');
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [phone, setPhone] = useState('');
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  useEffect(() => {
    if (errors !== NO_ERRORS) focusFirstInvalid(form.current);
  }, [errors]);

  const switchTo = (next: Mode) => {
    setMode(next);
    setErrors(NO_ERRORS);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    const api = new Api(null);
    try {
      const answer =
        mode === 'login'
          ? await api.login(username.trim(), password)
          : await api.register({ username: username.trim(), email: email.trim(), password, ...(phone.trim() ? { phone_number: phone.trim() } : {}) });
      onSignedIn({ token: answer.token, user: answer.user });
    } catch (error) {
      setBusy(false);
      const shown = mode === 'login' ? ['username', 'password'] : ['username', 'email', 'password', 'phone_number'];
      setErrors(error instanceof ApiError ? formErrors(error, shown) : { fields: {}, general: 'Something went wrong. Try again.' });
    }
  };

  const registering = mode === 'register';
  return (
    <main class="auth">
      <div class="auth-card">
        <h1 class="auth-title">RealChat</h1>
        <p class="muted">{registering ? 'Create an account to start chatting.' : 'Log in to your conversations.'}</p>
        <div class="tabs" role="group" aria-label="Account">
          <button type="button" class="tab" aria-pressed={!registering} onClick={() => switchTo('login')}>
            Log in
          </button>
          <button type="button" class="tab" aria-pressed={registering} onClick={() => switchTo('register')}>
            Create account
          </button>
        </div>
        <form ref={form} onSubmit={submit} noValidate aria-label={registering ? 'Create account' : 'Log in'}>
          {errors.general && (
            <p class="form-error" role="alert" tabIndex={-1}>
              {errors.general}
            </p>
          )}
          <Field
            id="username"
            label={registering ? 'Username' : 'Username or email'}
            value={username}
            onInput={setUsername}
            errors={errors.fields.username}
            autoComplete="username"
            required
            {...(registering ? { hint: 'Letters, digits and _ . - (3 to 150).' } : {})}
          />
          {registering && <Field id="email" label="Email" type="email" value={email} onInput={setEmail} errors={errors.fields.email} autoComplete="email" required />}
          <Field
            id="password"
            label="Password"
            type="password"
            value={password}
            onInput={setPassword}
            errors={errors.fields.password}
            autoComplete={registering ? 'new-password' : 'current-password'}
            required
            {...(registering ? { hint: 'At least 8 characters, not only digits.' } : {})}
          />
          {registering && (
            <Field
              id="phone_number"
              label="Phone number (optional)"
              type="tel"
              value={phone}
              onInput={setPhone}
              errors={errors.fields.phone_number}
              autoComplete="tel"
              hint="With the country code, for example +44 7700 900123."
            />
          )}
          <button type="submit" class="primary wide" disabled={busy}>
            {registering ? 'Create account' : 'Log in'}
          </button>
        </form>
      </div>
    </main>
  );
}
