// The server's router type. In the workspace it is @woopdi/api's own AppRouter (always current, no
// build step); `pnpm build` replaces dist/router.d.ts with the router's generated public surface
// (scripts/build.ts), so the published SDK names no server package.
export type { AppRouter } from '@woopdi/api';
