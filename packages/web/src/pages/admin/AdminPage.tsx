// The system admin area: every user (disable / enable and system role: superadmins) and every
// organization. Admins see it read-only; the API refuses what their role may not do.
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { trpc } from '../../lib/trpc';
import { useMe } from '../../session';
import { Empty, ErrorNote, Field, formatDate, Loading, Page } from '../../ui';

type SystemRole = 'superadmin' | 'admin' | 'user';

function Users({ superadmin, selfId }: { superadmin: boolean; selfId: string }) {
  const queryClient = useQueryClient();
  const [search, setSearch] = useState('');
  const users = useInfiniteQuery(
    trpc.admin.users.list.infiniteQueryOptions(
      { limit: 25, ...(search.trim() ? { search: search.trim() } : {}) },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.admin.users.list.pathKey() });
  const disable = useMutation({ ...trpc.admin.users.disable.mutationOptions(), onSuccess: refresh });
  const enable = useMutation({ ...trpc.admin.users.enable.mutationOptions(), onSuccess: refresh });
  const setRole = useMutation({ ...trpc.admin.users.setSystemRole.mutationOptions(), onSuccess: refresh });
  const rows = users.data?.pages.flatMap((page) => page.users) ?? [];
  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <div className="card inline-form">
        <Field label="Search by email">
          {(p) => (
            <input
              {...p}
              type="search"
              maxLength={254}
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          )}
        </Field>
      </div>
      <ErrorNote error={users.error ?? disable.error ?? enable.error ?? setRole.error} />
      {users.isPending ? (
        <Loading />
      ) : rows.length === 0 ? (
        <Empty>No users match.</Empty>
      ) : (
        <div className="card table-wrap">
          <table>
            <caption className="visually-hidden">Users</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Joined</th>
                <th scope="col">System role</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((u) => (
                <tr key={u.id} data-user={u.email}>
                  <td>
                    {u.email}
                    {u.name && <div className="muted">{u.name}</div>}
                  </td>
                  <td>{formatDate(u.createdAt)}</td>
                  <td>
                    {superadmin && u.id !== selfId ? (
                      <select
                        aria-label={`System role of ${u.email}`}
                        value={u.systemRole}
                        onChange={(e) =>
                          setRole.mutate({ userId: u.id, systemRole: e.target.value as SystemRole })
                        }
                      >
                        <option value="user">user</option>
                        <option value="admin">admin</option>
                        <option value="superadmin">superadmin</option>
                      </select>
                    ) : (
                      u.systemRole
                    )}
                  </td>
                  <td className="actions">
                    <span className={`status ${u.disabled ? 'status-failed' : 'status-succeeded'}`}>
                      {u.disabled ? 'disabled' : u.emailVerified ? 'active' : 'unconfirmed'}
                    </span>
                    {superadmin &&
                      u.id !== selfId &&
                      (u.disabled ? (
                        <button
                          type="button"
                          className="small"
                          onClick={() => enable.mutate({ userId: u.id })}
                        >
                          Enable
                        </button>
                      ) : (
                        <button
                          type="button"
                          className="small danger"
                          aria-label={`Disable ${u.email}`}
                          onClick={() => disable.mutate({ userId: u.id })}
                        >
                          Disable
                        </button>
                      ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {users.hasNextPage && (
            <button
              type="button"
              onClick={() => void users.fetchNextPage()}
              disabled={users.isFetchingNextPage}
            >
              Show more
            </button>
          )}
        </div>
      )}
    </section>
  );
}

function Organizations() {
  const [search, setSearch] = useState('');
  const [teamsOnly, setTeamsOnly] = useState(true);
  const orgs = useInfiniteQuery(
    trpc.admin.organizations.list.infiniteQueryOptions(
      {
        limit: 25,
        ...(teamsOnly ? { isSolo: false } : {}),
        ...(search.trim() ? { search: search.trim() } : {}),
      },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const rows = orgs.data?.pages.flatMap((page) => page.organizations) ?? [];
  return (
    <section aria-labelledby="orgs-title">
      <h2 id="orgs-title">Organizations</h2>
      <div className="card inline-form">
        <Field label="Search by name">
          {(p) => (
            <input
              {...p}
              type="search"
              maxLength={120}
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          )}
        </Field>
        <label className="check">
          <input type="checkbox" checked={teamsOnly} onChange={(e) => setTeamsOnly(e.target.checked)} /> Team
          organizations only
        </label>
      </div>
      <ErrorNote error={orgs.error} />
      {orgs.isPending ? (
        <Loading />
      ) : rows.length === 0 ? (
        <Empty>No organizations match.</Empty>
      ) : (
        <div className="card table-wrap">
          <table>
            <caption className="visually-hidden">Organizations</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Plan</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((o) => (
                <tr key={o.id}>
                  <td>
                    {o.name}
                    <div className="muted">{o.isSolo ? 'personal' : o.slug}</div>
                  </td>
                  <td>{o.plan}</td>
                  <td>{formatDate(o.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {orgs.hasNextPage && (
            <button
              type="button"
              onClick={() => void orgs.fetchNextPage()}
              disabled={orgs.isFetchingNextPage}
            >
              Show more
            </button>
          )}
        </div>
      )}
    </section>
  );
}

export function AdminPage() {
  const me = useMe();
  if (!me.data) return <Loading />;
  const superadmin = me.data.systemRole === 'superadmin';
  return (
    <Page title="Administration">
      {!superadmin && <p className="muted">You are an admin: you can look; superadmins change users.</p>}
      <Users superadmin={superadmin} selfId={me.data.id} />
      <Organizations />
    </Page>
  );
}
