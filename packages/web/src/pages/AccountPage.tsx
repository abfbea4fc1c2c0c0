// The signed-in person: name, password, email confirmation, and ending sign-ins.
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
