import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { fieldError } from '../../lib/errors';
import { trpc } from '../../lib/trpc';
import { ErrorNote, Field, Notice, Page } from '../../ui';

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const request = useMutation(trpc.auth.requestPasswordReset.mutationOptions());
  const submit = (e: FormEvent) => {
    e.preventDefault();
    request.mutate({ email });
  };
  return (
    <Page title="Reset your password">
      <form onSubmit={submit} className="card stack" noValidate>
        <p>We will email you a link to choose a new password. It works once, for 2 hours.</p>
        <Field label="Email" error={fieldError(request.error, 'email')}>
          {(p) => (
            <input
              {...p}
              type="email"
              autoComplete="email"
              required
              maxLength={254}
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          )}
        </Field>
        {!fieldError(request.error, 'email') && <ErrorNote error={request.error} />}
        {request.data && <Notice>{request.data.message}</Notice>}
        <button type="submit" className="primary" disabled={request.isPending}>
          Send the link
        </button>
        <Link to="/sign-in">Back to sign in</Link>
      </form>
    </Page>
  );
}
