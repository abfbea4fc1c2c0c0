// One organization's pages: loads the caller's place in it (role, owner, personal or team), remembers
// it as the active organization, and offers only the sections the role may use.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect } from 'react';
import { NavLink, Outlet, useParams } from 'react-router';
import { type Actor, canSeeAudit, canSeeBilling, canSeeMembers } from '../../lib/roles';
import { trpc } from '../../lib/trpc';
import { woopdi } from '../../lib/woopdi';
import { useMe } from '../../session';
import { ErrorNote, Loading } from '../../ui';

export interface OrgContextValue {
  organizationId: string;
  name: string;
  plan: string;
  actor: Actor;
}

const OrgContext = createContext<OrgContextValue | null>(null);

export function useOrg(): OrgContextValue {
  const value = useContext(OrgContext);
  if (!value) throw new Error('useOrg outside an organization page');
  return value;
}

export function OrgLayout() {
  const { organizationId = '' } = useParams();
  const me = useMe();
  const queryClient = useQueryClient();
  const org = useQuery(trpc.organizations.get.queryOptions({ organizationId }));
  const remembered = me.data?.lastActiveOrganizationId;

  useEffect(() => {
    if (!org.data || !me.data || remembered === org.data.id) return;
    woopdi.setActiveOrganization(org.data.id).then(
      () => queryClient.invalidateQueries({ queryKey: trpc.users.me.queryKey() }),
      () => {}, // remembering is a convenience; the page works without it
    );
  }, [org.data, me.data, remembered, queryClient]);

  if (org.error) return <ErrorNote error={org.error} />;
  if (!org.data || !me.data) return <Loading />;
  const actor: Actor = {
    userId: me.data.id,
    role: org.data.role,
    isOwner: org.data.isOwner,
    isSolo: org.data.isSolo,
  };
  const value = { organizationId, name: org.data.name, plan: org.data.plan, actor };
  const sections: Array<[string, string, boolean]> = [
    ['tasks', 'Tasks', true],
    ['files', 'Files', true],
    ['members', 'Members', canSeeMembers(actor) && !actor.isSolo],
    ['billing', 'Billing', canSeeBilling(actor)],
    ['audit', 'Audit log', canSeeAudit(actor)],
    ['settings', 'Settings', true],
  ];
  return (
    <OrgContext.Provider value={value}>
      <div className="org-heading">
        <p className="org-name">
          {org.data.name}
          <span className="badge">{org.data.isSolo ? 'personal' : org.data.plan}</span>
          <span className="badge">{org.data.isOwner ? 'owner' : org.data.role}</span>
        </p>
        <nav aria-label="Organization" className="tabs">
          {sections
            .filter(([, , shown]) => shown)
            .map(([path, label]) => (
              <NavLink key={path} to={path}>
                {label}
              </NavLink>
            ))}
        </nav>
      </div>
      <Outlet />
    </OrgContext.Provider>
  );
}
