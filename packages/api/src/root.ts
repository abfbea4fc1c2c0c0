import { authRouter } from './routers/auth.js';
import { organizationsRouter } from './routers/organizations.js';
import { systemRouter } from './routers/system.js';
import { usersRouter } from './routers/users.js';
import { router } from './trpc.js';

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  organizations: organizationsRouter,
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
