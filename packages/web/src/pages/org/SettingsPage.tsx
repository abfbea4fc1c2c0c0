// Rename, leave, hand over, delete: each offered only to whom the API allows it.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';
import { fieldError } from '../../lib/errors';
import { canDelete, canLeave, canRename, canTransfer } from '../../lib/roles';
import { trpc } from '../../lib/trpc';
import { ErrorNote, Field, Notice, Page } from '../../ui';
import { useOrg } from './OrgLayout';

function Rename() {
  const { organizationId, name: current } = useOrg();
  const queryClient = useQueryClient();
  const [name, setName] = useState(current);
  const rename = useMutation({
    ...trpc.organizations.update.mutationOptions(),
    onSuccess: () => queryClient.invalidateQueries(),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    rename.mutate({ organizationId, name });
  };
  return (
    <form onSubmit={submit} className="card stack" noValidate aria-labelledby="rename-title">
      <h2 id="rename-title">Name</h2>
      <Field label="Organization name" error={fieldError(rename.error, 'name')}>
        {(p) => (
          <input {...p} required maxLength={120} value={name} onChange={(e) => setName(e.target.value)} />
        )}
      </Field>
      {!fieldError(rename.error, 'name') && <ErrorNote error={rename.error} />}
      {rename.isSuccess && <Notice>Renamed.</Notice>}
      <button type="submit" disabled={rename.isPending || name.trim() === current}>
        Rename
      </button>
    </form>
  );
}

function Transfer() {
  const { organizationId, actor } = useOrg();
  const queryClient = useQueryClient();
  const members = useQuery(trpc.members.list.queryOptions({ organizationId, limit: 100 }));
  const admins = members.data?.members.filter((m) => m.role === 'ADMIN' && m.userId !== actor.userId) ?? [];
  const [userId, setUserId] = useState('');
  const transfer = useMutation({
    ...trpc.organizations.transferOwnership.mutationOptions(),
    onSuccess: () => queryClient.invalidateQueries(),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (userId) transfer.mutate({ organizationId, userId });
  };
  return (
    <form onSubmit={submit} className="card stack" noValidate aria-labelledby="transfer-title">
      <h2 id="transfer-title">Transfer ownership</h2>
      <p>The new owner must already be an ADMIN member. You stay an ADMIN.</p>
      {admins.length === 0 ? (
        <p className="muted">No other ADMIN member yet: make someone an ADMIN on the Members page first.</p>
      ) : (
        <Field label="New owner">
          {(p) => (
            <select {...p} value={userId} onChange={(e) => setUserId(e.target.value)}>
              <option value="">Choose an ADMIN</option>
              {admins.map((m) => (
                <option key={m.userId} value={m.userId}>
                  {m.name ? `${m.name} (${m.email})` : m.email}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
      <ErrorNote error={transfer.error ?? members.error} />
      {transfer.isSuccess && <Notice>Ownership transferred.</Notice>}
      <button type="submit" disabled={!userId || transfer.isPending}>
        Transfer
      </button>
    </form>
  );
}

function Leave() {
  const { organizationId, name } = useOrg();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const leave = useMutation({
    ...trpc.organizations.leave.mutationOptions(),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: trpc.users.pathKey() });
      navigate('/', { replace: true });
    },
  });
  return (
    <div className="card stack">
      <h2>Leave</h2>
      <p>You lose access to {name} until someone invites you again.</p>
      <ErrorNote error={leave.error} />
      <button
        type="button"
        className="danger"
        disabled={leave.isPending}
        onClick={() => {
          if (window.confirm(`Leave ${name}?`)) leave.mutate({ organizationId });
        }}
      >
        Leave {name}
      </button>
    </div>
  );
}

function Delete() {
  const { organizationId, name } = useOrg();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [typed, setTyped] = useState('');
  const remove = useMutation({
    ...trpc.organizations.delete.mutationOptions(),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: trpc.users.pathKey() });
      navigate('/', { replace: true });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    remove.mutate({ organizationId });
  };
  return (
    <form onSubmit={submit} className="card stack danger-zone" noValidate aria-labelledby="delete-title">
      <h2 id="delete-title">Delete the organization</h2>
      <p>
        Members lose access at once and pending invitations are revoked. The records stay for the audit trail.
      </p>
      <Field label={`Type “${name}” to confirm`}>
        {(p) => <input {...p} value={typed} maxLength={120} onChange={(e) => setTyped(e.target.value)} />}
      </Field>
      <ErrorNote error={remove.error} />
      <button type="submit" className="danger" disabled={typed !== name || remove.isPending}>
        Delete {name}
      </button>
    </form>
  );
}

export function SettingsPage() {
  const { actor } = useOrg();
  const any = canRename(actor) || canTransfer(actor) || canLeave(actor) || canDelete(actor);
  return (
    <Page title="Settings">
      {actor.isSolo && (
        <p>
          This is your personal organization: it cannot be renamed, deleted or left, and has no other members.
        </p>
      )}
      {!actor.isSolo && !any && <p className="muted">Only ADMINs change the organization's settings.</p>}
      {canRename(actor) && <Rename />}
      {canTransfer(actor) && <Transfer />}
      {canLeave(actor) && <Leave />}
      {canDelete(actor) && <Delete />}
    </Page>
  );
}
