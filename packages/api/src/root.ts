import { adminRouter } from './routers/admin.js';
import { authRouter } from './routers/auth.js';
import { invitationsRouter } from './routers/invitations.js';
import { membersRouter } from './routers/members.js';
import { organizationsRouter } from './routers/organizations.js';
import { systemRouter } from './routers/system.js';
import { tasksRouter } from './routers/tasks.js';
import { usersRouter } from './routers/users.js';
import { router } from './trpc.js';

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  organizations: organizationsRouter,
  members: membersRouter,
  invitations: invitationsRouter,
  tasks: tasksRouter,
  admin: adminRouter,
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
