import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { trpc } from '../../lib/trpc';
import { useSignedIn } from '../../session';
import { ErrorNote, Field, Loading, Notice, Page } from '../../ui';

export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const signedIn = useSignedIn();
  const queryClient = useQueryClient();
  const verify = useMutation({
    ...trpc.auth.verifyEmail.mutationOptions(),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.users.me.queryKey() }),
  });
  const resend = useMutation(trpc.auth.resendVerification.mutationOptions());
  const [email, setEmail] = useState('');
  // The token works once: one attempt per page, even when React runs effects twice in development.
  const tried = useRef(false);
  useEffect(() => {
    if (!token || tried.current) return;
    tried.current = true;
    verify.mutate({ token });
  }, [token, verify]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    resend.mutate({ email });
  };
  return (
    <Page title="Confirm your email">
      {!token && (
        <p className="error" role="alert">
          This link has no token: open the link from the email again.
        </p>
      )}
      {verify.isPending && <Loading what="Confirming" />}
      {verify.data && (
        <>
          <Notice>{verify.data.message}</Notice>
          <Link
            to={signedIn ? '/' : `/sign-in?email=${encodeURIComponent(verify.data.user.email)}`}
            className="button primary"
          >
            {signedIn ? 'Continue' : 'Sign in'}
          </Link>
        </>
      )}
      {verify.error && (
        <>
          <ErrorNote error={verify.error} />
          <form onSubmit={submit} className="card stack" noValidate>
            <Field label="Email">
              {(p) => (
                <input
                  {...p}
                  type="email"
                  autoComplete="email"
                  maxLength={254}
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                />
              )}
            </Field>
            <ErrorNote error={resend.error} />
            {resend.data && <Notice>{resend.data.message}</Notice>}
            <button type="submit" disabled={resend.isPending}>
              Send a new link
            </button>
          </form>
        </>
      )}
    </Page>
  );
}
