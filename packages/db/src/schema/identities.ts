import { boolean, index, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz } from './columns.js';
import { users } from './users.js';

/** A sign-in through an OAuth / OpenID Connect provider, linked to one account. */
export const userIdentities = pgTable(
  'user_identities',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The configured provider's name: google, github, or the NAME of OIDC_<NAME>_ISSUER (lower-cased). */
    provider: text('provider').notNull(),
    /** The provider's stable id for the person (OIDC `sub`, GitHub's numeric user id). */
    subject: text('subject').notNull(),
    /** The email the provider reported at the last sign-in, and whether it said it was verified. */
    email: text('email'),
    emailVerified: boolean('email_verified').notNull().default(false),
    createdAt: createdAt(),
    lastUsedAt: tstz('last_used_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('user_identities_provider_subject_key').on(t.provider, t.subject),
    index('user_identities_user_idx').on(t.userId),
  ],
);

/**
 * An authorization in progress (between /oauth/{provider}/start and its callback): at most 10
 * minutes, consumed once. The state is stored hashed; PKCE verifier and nonce never leave the server.
 */
export const oauthStates = pgTable(
  'oauth_states',
  {
    id: id(),
    stateHash: text('state_hash').notNull(),
    provider: text('provider').notNull(),
    codeVerifier: text('code_verifier').notNull(),
    nonce: text('nonce').notNull(),
    /** The front end's address the callback sends the browser back to. */
    redirectTo: text('redirect_to').notNull(),
    /** The callback URL given to the provider (it must be repeated, identical, at the token request). */
    redirectUri: text('redirect_uri').notNull(),
    /** Set when a signed-in user links a provider from the account page (not a sign-in). */
    linkUserId: uuid('link_user_id').references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: tstz('expires_at').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('oauth_states_state_hash_key').on(t.stateHash),
    index('oauth_states_expires_idx').on(t.expiresAt),
  ],
);
