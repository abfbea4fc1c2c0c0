// The frames around pages: the public one (sign-in and email links) and the signed-in one with the
// organization switcher, the account menu and the live user events that keep every page current.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { type ReactNode, useEffect, useState } from 'react';
import { Link, Navigate, NavLink, Outlet, useLocation, useMatch, useNavigate } from 'react-router';
import { errorMessage } from './lib/errors';
import { trpc } from './lib/trpc';
import { useMe, useMemberships, useSignedIn, useSignOut } from './session';
import { ErrorNote, Notice } from './ui';

export function PublicLayout() {
  const signedIn = useSignedIn();
  return (
    <div className="public">
      <header className="topbar">
        <Link to="/" className="brand">
          Woopdi
        </Link>
        {signedIn && <Link to="/">Open the app</Link>}
      </header>
      <main id="main" className="narrow">
        <Outlet />
      </main>
    </div>
  );
}

export function RequireSignIn({ children }: { children: ReactNode }) {
  const signedIn = useSignedIn();
  const location = useLocation();
  if (!signedIn) {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={next === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  return children;
}

/** Keeps cached answers in step with membership and session changes the server announces. */
function useUserEvents() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const current = useMatch('/organizations/:organizationId/*')?.params.organizationId;
  const [removedFrom, setRemovedFrom] = useState<string | null>(null);
  const events = useSubscription(
    trpc.users.events.subscriptionOptions(undefined, {
      // Whatever was announced before this stream (re)started was not heard: read it afresh.
      onStarted: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.users.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.members.list.pathKey() });
        if (current)
          void queryClient.invalidateQueries({
            queryKey: trpc.organizations.get.queryKey({ organizationId: current }),
          });
      },
      onData: (event) => {
        // The new role shows at once; the refetches below bring the rest.
        if (event.type === 'membership.roleChanged') {
          queryClient.setQueryData(
            trpc.organizations.get.queryKey({ organizationId: event.organizationId }),
            (org) => org && { ...org, role: event.role },
          );
        }
        void queryClient.invalidateQueries({ queryKey: trpc.users.pathKey() });
        if ('organizationId' in event) {
          for (const key of [
            trpc.organizations.get.queryKey({ organizationId: event.organizationId }),
            trpc.members.list.pathKey(),
            trpc.invitations.list.queryKey({ organizationId: event.organizationId }),
            trpc.billing.get.queryKey({ organizationId: event.organizationId }),
          ])
            void queryClient.invalidateQueries({ queryKey: key });
        }
        if (event.type === 'membership.removed' && event.organizationId === current) {
          setRemovedFrom(event.organizationId);
          navigate('/', { replace: true });
        }
      },
      // The stream ends or fails when this sign-in is revoked: asking again finds out (and signs out).
      onError: () => void queryClient.invalidateQueries({ queryKey: trpc.users.me.queryKey() }),
    }),
  );
  // A stream that failed for any other reason (a restart, a dependency down) is opened again, so
  // the page does not silently stop hearing changes; onStarted then reads what it missed.
  const failed = events.status === 'error';
  const { reset } = events;
  useEffect(() => {
    if (!failed) return;
    const timer = setTimeout(reset, 2_000);
    return () => clearTimeout(timer);
  }, [failed, reset]);
  return removedFrom;
}

function OrgSwitcher() {
  const memberships = useMemberships();
  const navigate = useNavigate();
  const current = useMatch('/organizations/:organizationId/*')?.params.organizationId;
  const section = useMatch('/organizations/:organizationId/:section')?.params.section ?? 'tasks';
  const list = memberships.data?.memberships ?? [];
  return (
    <div className="switcher">
      <label htmlFor="org-switcher" className="visually-hidden">
        Organization
      </label>
      <select
        id="org-switcher"
        value={current ?? ''}
        onChange={(e) => navigate(`/organizations/${e.target.value}/${section}`)}
      >
        {!current && <option value="">Choose an organization</option>}
        {list.map((m) => (
          <option key={m.organizationId} value={m.organizationId}>
            {m.isSolo ? `${m.organizationName} (personal)` : m.organizationName}
          </option>
        ))}
      </select>
      <Link to="/new-team" className="button small">
        New team
      </Link>
    </div>
  );
}

export function Shell() {
  const me = useMe();
  const signOut = useSignOut();
  const navigate = useNavigate();
  const removedFrom = useUserEvents();
  const [resent, setResent] = useState<string | null>(null);
  const resend = useMutation(trpc.auth.resendVerification.mutationOptions());
  const user = me.data;
  const isAdmin = user?.systemRole === 'admin' || user?.systemRole === 'superadmin';
  return (
    <div className="app">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          Woopdi
        </Link>
        <OrgSwitcher />
        <nav aria-label="Account" className="account-nav">
          <NavLink to="/account">{user?.name ?? user?.email ?? 'Account'}</NavLink>
          {isAdmin && <NavLink to="/admin">Admin</NavLink>}
          <button
            type="button"
            className="link-button"
            onClick={() => void signOut().finally(() => navigate('/sign-in'))}
          >
            Sign out
          </button>
        </nav>
      </header>
      {me.error && <ErrorNote error={me.error} />}
      {user && !user.emailVerified && (
        <div className="banner" role="status">
          Confirm your email address: we sent a link to {user.email}.{' '}
          <button
            type="button"
            className="link-button"
            onClick={() => resend.mutate({ email: user.email }, { onSuccess: (r) => setResent(r.message) })}
          >
            Send it again
          </button>
          {resent && <span> {resent}</span>}
          {resend.error ? <span className="error"> {errorMessage(resend.error)}</span> : null}
        </div>
      )}
      {removedFrom && <Notice>You were removed from that organization.</Notice>}
      <main id="main">
        <Outlet />
      </main>
    </div>
  );
}
