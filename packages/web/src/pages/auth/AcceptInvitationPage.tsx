// An invitation link: a new person chooses a password (their account is created, verified, signed
// in); an existing user accepts while signed in as the invited email.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { fieldError } from '../../lib/errors';
import { trpc } from '../../lib/trpc';
import { woopdi } from '../../lib/woopdi';
import { useMe, useSignedIn, useSignOut } from '../../session';
import { ErrorNote, Field, Loading, Page } from '../../ui';

export function AcceptInvitationPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const signedIn = useSignedIn();
  const me = useMe();
  const signOut = useSignOut();
  const details = useQuery({
    ...trpc.invitations.details.queryOptions({ token }),
    enabled: token.length > 0,
  });
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const accept = useMutation({
    ...trpc.invitations.accept.mutationOptions(),
    onSuccess: async (result) => {
      if (result.tokens) woopdi.setTokens(result.tokens);
      await woopdi.setActiveOrganization(result.organizationId);
      await queryClient.invalidateQueries();
      navigate(`/organizations/${result.organizationId}/tasks`, { replace: true });
    },
  });
  const here = `/accept-invitation?token=${encodeURIComponent(token)}`;

  if (!token) {
    return (
      <Page title="Invitation">
        <p className="error" role="alert">
          This link has no token: open the link from the invitation email again.
        </p>
      </Page>
    );
  }
  if (details.isPending) return <Loading what="Reading the invitation" />;
  if (details.error) {
    return (
      <Page title="Invitation">
        <ErrorNote error={details.error} />
        <p>Ask the person who invited you to send the invitation again.</p>
      </Page>
    );
  }
  const invitation = details.data;
  const intro = (
    <p>
      {invitation.inviterName} invited <strong>{invitation.email}</strong> to join{' '}
      <strong>{invitation.organizationName}</strong> as {invitation.role}.
    </p>
  );
  const signedInAs = me.data?.email;

  if (!invitation.accountExists) {
    const submit = (e: FormEvent) => {
      e.preventDefault();
      accept.mutate({ token, password, ...(name.trim() ? { name: name.trim() } : {}) });
    };
    return (
      <Page title={`Join ${invitation.organizationName}`}>
        {intro}
        {signedIn && signedInAs && (
          <p className="notice">
            You are signed in as {signedInAs}. The invitation is for a new account:{' '}
            <button type="button" className="link-button" onClick={() => void signOut()}>
              sign out
            </button>{' '}
            to accept it.
          </p>
        )}
        <form onSubmit={submit} className="card stack" noValidate>
          <Field label="Email">{(p) => <input {...p} value={invitation.email} readOnly />}</Field>
          <Field label="Your name" hint="Optional" error={fieldError(accept.error, 'name')}>
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
          <Field
            label="Choose a password"
            hint="At least 8 characters"
            error={fieldError(accept.error, 'password')}
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
          {!fieldError(accept.error, 'password') && <ErrorNote error={accept.error} />}
          <button type="submit" className="primary" disabled={accept.isPending || signedIn}>
            Create account and join
          </button>
        </form>
      </Page>
    );
  }

  return (
    <Page title={`Join ${invitation.organizationName}`}>
      {intro}
      {!signedIn && (
        <p>
          You already have an account:{' '}
          <Link
            to={`/sign-in?email=${encodeURIComponent(invitation.email)}&next=${encodeURIComponent(here)}`}
          >
            sign in as {invitation.email}
          </Link>{' '}
          to accept.
        </p>
      )}
      {signedIn && signedInAs && signedInAs !== invitation.email && (
        <p className="notice">
          You are signed in as {signedInAs}, but the invitation is for {invitation.email}.{' '}
          <button type="button" className="link-button" onClick={() => void signOut()}>
            Sign out
          </button>{' '}
          and sign in as {invitation.email}.
        </p>
      )}
      {signedIn && signedInAs === invitation.email && (
        <div className="stack">
          <ErrorNote error={accept.error} />
          <button
            type="button"
            className="primary"
            disabled={accept.isPending}
            onClick={() => accept.mutate({ token })}
          >
            Accept and join {invitation.organizationName}
          </button>
        </div>
      )}
    </Page>
  );
}
