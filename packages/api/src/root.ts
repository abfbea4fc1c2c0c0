import { adminRouter } from './routers/admin.js';
import { apiKeysRouter } from './routers/api-keys.js';
import { assetsRouter } from './routers/assets.js';
import { authRouter } from './routers/auth.js';
import { billingRouter } from './routers/billing.js';
import { invitationsRouter } from './routers/invitations.js';
import { membersRouter } from './routers/members.js';
import { organizationsRouter } from './routers/organizations.js';
import { systemRouter } from './routers/system.js';
import { tasksRouter } from './routers/tasks.js';
import { usersRouter } from './routers/users.js';
import { webhooksRouter } from './routers/webhooks.js';
import { router } from './trpc.js';

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  organizations: organizationsRouter,
  members: membersRouter,
  invitations: invitationsRouter,
  tasks: tasksRouter,
  assets: assetsRouter,
  billing: billingRouter,
  apiKeys: apiKeysRouter,
  webhooks: webhooksRouter,
  admin: adminRouter,
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
