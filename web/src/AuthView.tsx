// Log in or create an account; the API's field errors appear beside their fields.
import { useState } from 'preact/hooks';
import { Api } from './api.js';
import { errorsOf, Field, FormError, NO_ERRORS, PhoneField, useFormErrors } from './Field.js';
import type { Session } from './session.js';

type Mode = 'login' | 'register';

export function AuthView({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [mode, setMode] = useState<Mode>('login');
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [phone, setPhone] = useState('');
  const [errors, setErrors, form] = useFormErrors();
  const [busy, setBusy] = useState(false);

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
      setErrors(errorsOf(error, shown));
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
          <FormError errors={errors} />
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
          {registering && <PhoneField label="Phone number (optional)" value={phone} onInput={setPhone} errors={errors.fields.phone_number} />}
          <button type="submit" class="primary wide" disabled={busy}>
            {registering ? 'Create account' : 'Log in'}
          </button>
        </form>
      </div>
    </main>
  );
}
