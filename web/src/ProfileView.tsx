// The profile: set the phone number (PATCH /accounts/me/) and verify it with the code sent by SMS.
import { useState } from 'preact/hooks';
import { ApiError, type Api, type User } from './api.js';
import { errorsOf, Field, FormError, NO_ERRORS, PhoneField, useFormErrors } from './Field.js';
import { day } from './format.js';
import { PaneHeader } from './PaneHeader.js';

interface ProfileViewProps {
  api: Api;
  user: User;
  onUser: (user: User) => void;
}

export function ProfileView({ api, user, onUser }: ProfileViewProps) {
  const [phone, setPhone] = useState(user.phone_number ?? '');
  const [phoneErrors, setPhoneErrors, phoneForm] = useFormErrors();
  const [code, setCode] = useState('');
  const [codeErrors, setCodeErrors, codeForm] = useFormErrors();
  const [codeSent, setCodeSent] = useState(false);
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);

  const act = async (work: () => Promise<void>) => {
    setBusy(true);
    setNotice('');
    try {
      await work();
    } finally {
      setBusy(false);
    }
  };

  const savePhone = (event: Event) => {
    event.preventDefault();
    void act(async () => {
      try {
        const updated = await api.updateMe({ phone_number: phone.trim() || null });
        onUser(updated);
        setPhone(updated.phone_number ?? '');
        setPhoneErrors(NO_ERRORS);
        setCodeSent(false);
        setNotice(updated.phone_number ? 'Phone number saved. Verify it below.' : 'Phone number removed.');
      } catch (error) {
        setPhoneErrors(errorsOf(error, ['phone_number']));
      }
    });
  };

  const sendCode = () =>
    act(async () => {
      try {
        await api.startPhoneVerification();
        setCodeSent(true);
        setCodeErrors(NO_ERRORS);
        setNotice(`Code sent to ${user.phone_number ?? 'your phone'}.`);
      } catch (error) {
        setCodeErrors(errorsOf(error, []));
      }
    });

  const checkCode = (event: Event) => {
    event.preventDefault();
    void act(async () => {
      try {
        await api.checkPhoneCode(code.trim());
        onUser(await api.me());
        setCode('');
        setCodeSent(false);
        setCodeErrors(NO_ERRORS);
        setNotice('Phone number verified.');
      } catch (error) {
        const errors = errorsOf(error, ['code']);
        // A wrong code is about the field, whatever key the server files it under.
        setCodeErrors(error instanceof ApiError && error.code === 'invalid_code' && !errors.fields.code ? { fields: { code: [error.detail] }, general: null } : errors);
      }
    });
  };

  const unchanged = phone.trim() === (user.phone_number ?? '');
  return (
    <section class="profile" aria-labelledby="profile-title">
      <PaneHeader titleId="profile-title" title="Profile" />
      <div class="profile-body">
        <dl class="facts">
          <dt>Username</dt>
          <dd dir="auto">{user.username}</dd>
          <dt>Email</dt>
          <dd dir="auto">{user.email}</dd>
          <dt>Member since</dt>
          <dd>{day(user.date_joined)}</dd>
          <dt>Phone</dt>
          <dd data-testid="phone-state">{user.phone_number ? `${user.phone_number} · ${user.phone_verified ? 'verified' : 'not verified'}` : 'not set'}</dd>
        </dl>

        <form ref={phoneForm} onSubmit={savePhone} noValidate aria-labelledby="phone-title">
          <h3 id="phone-title">Phone</h3>
          <FormError errors={phoneErrors} />
          <PhoneField label="Phone number" value={phone} onInput={setPhone} errors={phoneErrors.fields.phone_number} hint="Leave empty to remove it." />
          <button type="submit" disabled={busy || unchanged}>
            Save number
          </button>
        </form>

        {user.phone_number && !user.phone_verified && (
          <form ref={codeForm} onSubmit={checkCode} noValidate aria-labelledby="verify-title">
            <h3 id="verify-title">Verify your number</h3>
            <p class="muted">We send a code by SMS to {user.phone_number}.</p>
            <FormError errors={codeErrors} />
            <button type="button" class={codeSent ? 'secondary' : ''} onClick={() => void sendCode()} disabled={busy}>
              {codeSent ? 'Send a new code' : 'Send code'}
            </button>
            {codeSent && (
              <>
                <Field id="code" label="Code from the SMS" value={code} onInput={setCode} errors={codeErrors.fields.code} autoComplete="one-time-code" inputMode="numeric" />
                <button type="submit" disabled={busy || !code.trim()}>
                  Verify
                </button>
              </>
            )}
          </form>
        )}
        <p class="notice" role="status">
          {notice}
        </p>
      </div>
    </section>
  );
}
