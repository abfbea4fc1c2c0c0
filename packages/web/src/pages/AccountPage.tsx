// The signed-in person: name, password, two-factor, email confirmation, and ending sign-ins.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';
import { fieldError } from '../lib/errors';
import { trpc } from '../lib/trpc';
import { useMe, useSignOut } from '../session';
import { ErrorNote, Field, formatDate, Loading, Notice, Page } from '../ui';

function Profile({ name: current }: { name: string | null }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(current ?? '');
  const update = useMutation({
    ...trpc.users.updateMe.mutationOptions(),
    onSuccess: (user) => queryClient.setQueryData(trpc.users.me.queryKey(), user),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    update.mutate({ name: name.trim() || null });
  };
  return (
    <form onSubmit={submit} className="card stack" noValidate aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <Field label="Name" error={fieldError(update.error, 'name')}>
        {(p) => (
          <input
            {...p}
            autoComplete="name"
            maxLength={120}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        )}
      </Field>
      {!fieldError(update.error, 'name') && <ErrorNote error={update.error} />}
      {update.isSuccess && <Notice>Saved.</Notice>}
      <button type="submit" disabled={update.isPending}>
        Save
      </button>
    </form>
  );
}

function Password() {
  const [currentPassword, setCurrent] = useState('');
  const [newPassword, setNew] = useState('');
  const update = useMutation(trpc.users.updateMe.mutationOptions());
  const submit = (e: FormEvent) => {
    e.preventDefault();
    update.mutate(
      { currentPassword, newPassword },
      {
        onSuccess: () => {
          setCurrent('');
          setNew('');
        },
      },
    );
  };
  return (
    <form onSubmit={submit} className="card stack" noValidate aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      <p className="muted">Changing it signs out every other device.</p>
      <Field label="Current password" error={fieldError(update.error, 'currentPassword')}>
        {(p) => (
          <input
            {...p}
            type="password"
            autoComplete="current-password"
            maxLength={256}
            value={currentPassword}
            onChange={(e) => setCurrent(e.target.value)}
          />
        )}
      </Field>
      <Field
        label="New password"
        hint="At least 8 characters"
        error={fieldError(update.error, 'newPassword')}
      >
        {(p) => (
          <input
            {...p}
            type="password"
            autoComplete="new-password"
            minLength={8}
            maxLength={256}
            value={newPassword}
            onChange={(e) => setNew(e.target.value)}
          />
        )}
      </Field>
      {!fieldError(update.error, 'newPassword') && !fieldError(update.error, 'currentPassword') && (
        <ErrorNote error={update.error} />
      )}
      {update.isSuccess && <Notice>Password changed; other devices were signed out.</Notice>}
      <button type="submit" disabled={update.isPending || !currentPassword || !newPassword}>
        Change password
      </button>
    </form>
  );
}

/** Two-factor: enroll (QR code + secret) → confirm with a code → recovery codes once; or turn off. */
function TwoFactor({ enabled }: { enabled: boolean }) {
  const queryClient = useQueryClient();
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.me.queryKey() });
  const enroll = useMutation(trpc.auth.twoFactor.enroll.mutationOptions());
  const confirm = useMutation({ ...trpc.auth.twoFactor.confirm.mutationOptions(), onSuccess: refresh });
  const disable = useMutation({ ...trpc.auth.twoFactor.disable.mutationOptions(), onSuccess: refresh });
  if (confirm.data) {
    return (
      <section className="card stack" aria-labelledby="two-factor-title">
        <h2 id="two-factor-title">Two-factor sign-in</h2>
        <Notice>{confirm.data.message}</Notice>
        <ul className="recovery-codes">
          {confirm.data.recoveryCodes.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ul>
        <button type="button" onClick={() => confirm.reset()}>
          I have saved them
        </button>
      </section>
    );
  }
  if (enabled) {
    const submit = (e: FormEvent) => {
      e.preventDefault();
      disable.mutate({ password }, { onSuccess: () => setPassword('') });
    };
    return (
      <form onSubmit={submit} className="card stack" noValidate aria-labelledby="two-factor-title">
        <h2 id="two-factor-title">Two-factor sign-in</h2>
        <p>
          <span className="badge">on</span> Signing in asks for a code from your authenticator app.
        </p>
        <Field label="Password to turn it off">
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="current-password"
              maxLength={256}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <ErrorNote error={disable.error} />
        <button type="submit" className="danger" disabled={disable.isPending || !password}>
          Turn off two-factor
        </button>
      </form>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    confirm.mutate({ code: code.trim() }, { onSuccess: () => setCode('') });
  };
  return (
    <form onSubmit={submit} className="card stack" noValidate aria-labelledby="two-factor-title">
      <h2 id="two-factor-title">Two-factor sign-in</h2>
      {disable.isSuccess && <Notice>{disable.data.message}</Notice>}
      {!enroll.data ? (
        <>
          <p>Ask for a code from an authenticator app as well as your password when signing in.</p>
          <ErrorNote error={enroll.error} />
          <button type="button" onClick={() => enroll.mutate()} disabled={enroll.isPending}>
            Set up two-factor
          </button>
        </>
      ) : (
        <>
          <p>Scan this with your authenticator app, or type the key in, then enter the code it shows.</p>
          <img
            src={enroll.data.qrCodeSvgDataUrl}
            alt="QR code of your two-factor key"
            width={200}
            height={200}
          />
          <p>
            Key: <code>{enroll.data.secret}</code>
          </p>
          <Field label="Code from the app">
            {(p) => (
              <input
                {...p}
                autoComplete="one-time-code"
                inputMode="numeric"
                maxLength={6}
                value={code}
                onChange={(e) => setCode(e.target.value)}
              />
            )}
          </Field>
          <ErrorNote error={confirm.error} />
          <button type="submit" disabled={confirm.isPending || code.trim().length !== 6}>
            Turn on two-factor
          </button>
        </>
      )}
    </form>
  );
}

export function AccountPage() {
  const me = useMe();
  const signOut = useSignOut();
  const navigate = useNavigate();
  const resend = useMutation(trpc.auth.resendVerification.mutationOptions());
  const [signingOut, setSigningOut] = useState<unknown>(null);
  if (me.error) return <ErrorNote error={me.error} />;
  if (!me.data) return <Loading />;
  const user = me.data;
  return (
    <Page title="Your account">
      <div className="card">
        <dl className="facts">
          <dt>Email</dt>
          <dd>
            {user.email}{' '}
            {user.emailVerified ? (
              <span className="badge">confirmed {formatDate(user.emailVerifiedAt)}</span>
            ) : (
              <>
                <span className="badge warn">not confirmed</span>{' '}
                <button type="button" className="small" onClick={() => resend.mutate({ email: user.email })}>
                  Send the link again
                </button>
              </>
            )}
          </dd>
          <dt>Member since</dt>
          <dd>{formatDate(user.createdAt)}</dd>
          {user.systemRole !== 'user' && (
            <>
              <dt>System role</dt>
              <dd>{user.systemRole}</dd>
            </>
          )}
        </dl>
        <ErrorNote error={resend.error} />
        {resend.data && <Notice>{resend.data.message}</Notice>}
      </div>
      <Profile name={user.name} />
      <Password />
      <TwoFactor enabled={user.twoFactorEnabled} />
      <div className="card stack">
        <h2>Sessions</h2>
        <p>
          Signed in on another device you no longer use? End every sign-in of this account, this one included.
        </p>
        <ErrorNote error={signingOut} />
        <button
          type="button"
          className="danger"
          onClick={() =>
            signOut(true).then(
              () => navigate('/sign-in'),
              (error: unknown) => setSigningOut(error),
            )
          }
        >
          Sign out everywhere
        </button>
      </div>
    </Page>
  );
}
