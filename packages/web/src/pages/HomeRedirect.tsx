import { Navigate } from 'react-router';
import { useMe, useMemberships } from '../session';
import { ErrorNote, Loading } from '../ui';

/** `/`: the organization the user last worked in (remembered on the account), else the first. */
export function HomeRedirect() {
  const me = useMe();
  const memberships = useMemberships();
  if (me.error || memberships.error) return <ErrorNote error={me.error ?? memberships.error} />;
  if (!me.data || !memberships.data) return <Loading />;
  const list = memberships.data.memberships;
  const remembered = list.find((m) => m.organizationId === me.data.lastActiveOrganizationId);
  const target = remembered ?? list.find((m) => !m.isSolo) ?? list[0];
  if (!target) return <Loading what="Setting up your organization" />;
  return <Navigate to={`/organizations/${target.organizationId}/tasks`} replace />;
}
