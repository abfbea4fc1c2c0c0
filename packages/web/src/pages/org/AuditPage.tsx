import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { trpc } from '../../lib/trpc';
import { Empty, ErrorNote, Field, formatDate, Loading, Page } from '../../ui';
import { useOrg } from './OrgLayout';

export function AuditPage() {
  const { organizationId } = useOrg();
  const [action, setAction] = useState('');
  const log = useInfiniteQuery(
    trpc.organizations.auditLog.infiniteQueryOptions(
      { organizationId, limit: 25, ...(action.trim() ? { action: action.trim() } : {}) },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const entries = log.data?.pages.flatMap((page) => page.entries) ?? [];
  return (
    <Page title="Audit log">
      <div className="card inline-form">
        <Field label="Action" hint="For example member.removed">
          {(p) => <input {...p} maxLength={100} value={action} onChange={(e) => setAction(e.target.value)} />}
        </Field>
      </div>
      <ErrorNote error={log.error} />
      {log.isPending ? (
        <Loading />
      ) : entries.length === 0 ? (
        <Empty>Nothing recorded{action ? ' for this action' : ''}.</Empty>
      ) : (
        <div className="card table-wrap">
          <table>
            <caption className="visually-hidden">Audit log, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id}>
                  <td>{formatDate(entry.at)}</td>
                  <td>
                    <code>{entry.action}</code>
                    {/* A superadmin acting as a member (support impersonation): the root README's rules. */}
                    {entry.impersonatorUserId && !entry.action.startsWith('support.') ? ' (by support)' : ''}
                  </td>
                  <td>
                    {entry.targetType ? `${entry.targetType} ${entry.targetId?.slice(0, 8) ?? ''}` : '—'}
                  </td>
                  <td className="details">
                    {Object.keys(entry.metadata).length ? JSON.stringify(entry.metadata) : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {log.hasNextPage && (
            <button type="button" onClick={() => void log.fetchNextPage()} disabled={log.isFetchingNextPage}>
              Show older entries
            </button>
          )}
        </div>
      )}
    </Page>
  );
}
