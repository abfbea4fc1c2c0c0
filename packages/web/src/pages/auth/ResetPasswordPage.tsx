import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { fieldError } from '../../lib/errors';
import { trpc } from '../../lib/trpc';
import { woopdi } from '../../lib/woopdi';
import { ErrorNote, Field, Notice, Page } from '../../ui';

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const reset = useMutation({
    ...trpc.auth.resetPassword.mutationOptions(),
    // A reset signs out every session of the account, this browser's included.
    onSuccess: () => woopdi.setTokens(null),
  });
  const mismatch = confirm.length > 0 && confirm !== password ? 'The two passwords differ' : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!mismatch) reset.mutate({ token, newPassword: password });
  };
  if (!token) {
    return (
      <Page title="Choose a new password">
        <p className="error" role="alert">
          This link has no token. Open the link from the email again, or{' '}
          <Link to="/forgot-password">ask for a new one</Link>.
        </p>
      </Page>
    );
  }
  if (reset.data) {
    return (
      <Page title="Password changed">
        <Notice>{reset.data.message}</Notice>
        <Link to="/sign-in" className="button primary">
          Sign in
        </Link>
      </Page>
    );
  }
  return (
    <Page title="Choose a new password">
      <form onSubmit={submit} className="card stack" noValidate>
        <Field
          label="New password"
          error={fieldError(reset.error, 'newPassword')}
          hint="At least 8 characters"
        >
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="new-password"
              minLength={8}
              maxLength={256}
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <Field label="Repeat it" error={mismatch}>
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="new-password"
              maxLength={256}
              required
              value={confirm}
              onChange={(e) => setConfirm(e.target.value)}
            />
          )}
        </Field>
        {!fieldError(reset.error, 'newPassword') && <ErrorNote error={reset.error} />}
        {reset.error ? <Link to="/forgot-password">Ask for a new link</Link> : null}
        <button type="submit" className="primary" disabled={reset.isPending || Boolean(mismatch)}>
          Set the password
        </button>
      </form>
    </Page>
  );
}
