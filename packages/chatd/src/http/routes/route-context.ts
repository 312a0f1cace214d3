import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ConfigAdmin } from '../../config/config-admin.js';
import type { ApiDependencies, ResolvedApiOptions } from '../api.js';
import type { AccessHooks } from '../auth.js';
import type { OpenStreams } from '../open-streams.js';
import type { UserRateLimits } from '../user-rate-limits.js';

/** What every route module receives from `registerApi`. */
export interface RouteContext {
  readonly deps: ApiDependencies;
  readonly options: ResolvedApiOptions;
  /** Every route declares exactly one of these as its `onRequest` hook (checked at registration). */
  readonly access: AccessHooks;
  readonly configAdmin: ConfigAdmin;
  /** Open event streams with their credentials: closed when the credential ends or the server closes. */
  readonly openStreams: OpenStreams;
  /** Per-user rate limits, as `preHandler` hooks (they run after the access hook, so the user is known). */
  readonly limits: UserRateLimits;
}

/**
 * The API scope as route modules see it: the zod type provider types `request.params`, `query`, `body`
 * and `headers` from the route's schemas, and checks what handlers return against its response schemas.
 */
export type ApiInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;
