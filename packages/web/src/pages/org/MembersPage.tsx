// Members and invitations. Every control appears only where DESIGN §4's rules allow it for the
// caller's role; a role without access (MEMBER) sees the API's own refusal.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { fieldError } from '../../lib/errors';
import { assignableRoles, canRemove, invitableRoles, type OrgRole } from '../../lib/roles';
import { trpc } from '../../lib/trpc';
import { Empty, ErrorNote, Field, formatDate, Loading, Notice, Page } from '../../ui';
import { useOrg } from './OrgLayout';

type MemberRow = { userId: string; email: string; name: string | null; role: OrgRole; isOwner: boolean };

function MemberControls({ member }: { member: MemberRow }) {
  const { organizationId, actor } = useOrg();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.members.list.pathKey() });
  const updateRole = useMutation({ ...trpc.members.updateRole.mutationOptions(), onSuccess: refresh });
  const remove = useMutation({ ...trpc.members.remove.mutationOptions(), onSuccess: refresh });
  const roles = assignableRoles(actor, member);
  const who = member.name ?? member.email;
  return (
    <>
      <td>
        {roles.length > 0 ? (
          <select
            aria-label={`Role of ${who}`}
            value={member.role}
            disabled={updateRole.isPending}
            onChange={(e) =>
              updateRole.mutate({ organizationId, userId: member.userId, role: e.target.value as OrgRole })
            }
          >
            {[...new Set([member.role, ...roles])].map((role) => (
              <option key={role} value={role}>
                {role}
              </option>
            ))}
          </select>
        ) : (
          <span className="role">{member.isOwner ? 'ADMIN (owner)' : member.role}</span>
        )}
        <ErrorNote error={updateRole.error} />
      </td>
      <td>
        {canRemove(actor, member) && (
          <button
            type="button"
            className="danger small"
            disabled={remove.isPending}
            aria-label={`Remove ${who}`}
            onClick={() => {
              if (window.confirm(`Remove ${who} from the organization?`))
                remove.mutate({ organizationId, userId: member.userId });
            }}
          >
            Remove
          </button>
        )}
        <ErrorNote error={remove.error} />
      </td>
    </>
  );
}

function Invitations() {
  const { organizationId, actor } = useOrg();
  const queryClient = useQueryClient();
  const roles = invitableRoles(actor);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<OrgRole>('MEMBER');
  const list = useQuery({
    ...trpc.invitations.list.queryOptions({ organizationId }),
    enabled: roles.length > 0,
  });
  const refresh = () =>
    queryClient.invalidateQueries({ queryKey: trpc.invitations.list.queryKey({ organizationId }) });
  const create = useMutation({
    ...trpc.invitations.create.mutationOptions(),
    onSuccess: () => {
      setEmail('');
      return refresh();
    },
  });
  const resend = useMutation({ ...trpc.invitations.resend.mutationOptions(), onSuccess: refresh });
  const revoke = useMutation({ ...trpc.invitations.revoke.mutationOptions(), onSuccess: refresh });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ organizationId, email, role });
  };
  if (roles.length === 0) return null;
  return (
    <section aria-labelledby="invitations-title" className="card">
      <h2 id="invitations-title">Invitations</h2>
      <form onSubmit={submit} className="inline-form" noValidate>
        <Field label="Email to invite" error={fieldError(create.error, 'email')}>
          {(p) => (
            <input
              {...p}
              type="email"
              required
              maxLength={254}
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          )}
        </Field>
        <Field label="Role">
          {(p) => (
            <select {...p} value={role} onChange={(e) => setRole(e.target.value as OrgRole)}>
              {roles.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="primary" disabled={create.isPending}>
          Invite
        </button>
      </form>
      {!fieldError(create.error, 'email') && <ErrorNote error={create.error} />}
      {create.data && <Notice>Invitation sent to {create.data.email}.</Notice>}
      <ErrorNote error={resend.error ?? revoke.error ?? list.error} />
      {list.isPending ? (
        <Loading />
      ) : list.data?.invitations.length === 0 ? (
        <Empty>No invitations yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Invitations</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data?.invitations.map((inv) => (
                <tr key={inv.id}>
                  <td>{inv.email}</td>
                  <td>{inv.role}</td>
                  <td>
                    <span className={`status status-${inv.status}`}>{inv.status}</span>
                  </td>
                  <td>{formatDate(inv.expiresAt)}</td>
                  <td className="actions">
                    {inv.status === 'pending' && (
                      <>
                        <button
                          type="button"
                          className="small"
                          aria-label={`Resend the invitation to ${inv.email}`}
                          onClick={() => resend.mutate({ invitationId: inv.id })}
                        >
                          Resend
                        </button>
                        <button
                          type="button"
                          className="small danger"
                          aria-label={`Revoke the invitation to ${inv.email}`}
                          onClick={() => revoke.mutate({ invitationId: inv.id })}
                        >
                          Revoke
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function MembersPage() {
  const { organizationId, actor } = useOrg();
  // Kept current by users.events (members.changed, membership.*): see shell.tsx.
  const members = useInfiniteQuery(
    trpc.members.list.infiniteQueryOptions(
      { organizationId, limit: 50 },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  if (members.error) {
    return (
      <Page title="Members">
        <ErrorNote error={members.error} />
      </Page>
    );
  }
  const rows = members.data?.pages.flatMap((page) => page.members) ?? [];
  return (
    <Page title="Members">
      {actor.isSolo && (
        <p>This is your personal organization: create a team organization to invite people.</p>
      )}
      {members.isPending ? (
        <Loading />
      ) : (
        <div className="card table-wrap">
          <table>
            <caption className="visually-hidden">Members</caption>
            <thead>
              <tr>
                <th scope="col">Member</th>
                <th scope="col">Joined</th>
                <th scope="col">Role</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <tr key={m.userId} data-member={m.email}>
                  <td>
                    <strong>{m.name ?? m.email}</strong>
                    {m.name && <div className="muted">{m.email}</div>}
                    {m.userId === actor.userId && <span className="badge">you</span>}
                  </td>
                  <td>{formatDate(m.joinedAt)}</td>
                  <MemberControls member={m} />
                </tr>
              ))}
            </tbody>
          </table>
          {members.hasNextPage && (
            <button
              type="button"
              onClick={() => void members.fetchNextPage()}
              disabled={members.isFetchingNextPage}
            >
              Show more
            </button>
          )}
        </div>
      )}
      <Invitations />
    </Page>
  );
}
