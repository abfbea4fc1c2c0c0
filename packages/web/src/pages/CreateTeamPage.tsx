import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';
import { fieldError } from '../lib/errors';
import { trpc } from '../lib/trpc';
import { woopdi } from '../lib/woopdi';
import { ErrorNote, Field, Page } from '../ui';

export function CreateTeamPage() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const settings = useQuery(trpc.system.settings.queryOptions());
  const [name, setName] = useState('');
  const create = useMutation({
    ...trpc.organizations.create.mutationOptions(),
    onSuccess: async (org) => {
      await woopdi.setActiveOrganization(org.id);
      await queryClient.invalidateQueries({ queryKey: trpc.users.pathKey() });
      navigate(`/organizations/${org.id}/members`);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ name });
  };
  const max = settings.data?.maxOwnedTeamOrganizations;
  return (
    <Page title="Create a team organization">
      <form onSubmit={submit} className="card stack" noValidate>
        <p>
          A team organization has members, invitations, a plan and its own files and tasks. You become its
          owner.
          {max !== undefined && ` You may own ${max} team organization${max === 1 ? '' : 's'}.`}
        </p>
        <Field label="Name" error={fieldError(create.error, 'name')}>
          {(p) => (
            <input {...p} required maxLength={120} value={name} onChange={(e) => setName(e.target.value)} />
          )}
        </Field>
        {!fieldError(create.error, 'name') && <ErrorNote error={create.error} />}
        <button type="submit" className="primary" disabled={create.isPending}>
          Create
        </button>
      </form>
    </Page>
  );
}
