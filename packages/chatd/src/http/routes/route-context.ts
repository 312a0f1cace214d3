import type { ConfigAdmin } from '../../config/config-admin.js';
import type { ApiDependencies, ResolvedApiOptions } from '../api.js';
import type { AccessHooks } from '../auth.js';
import type { SseResponse } from '../sse.js';

/** What every route module receives from `registerApi`. */
export interface RouteContext {
  readonly deps: ApiDependencies;
  readonly options: ResolvedApiOptions;
  /** Every route declares exactly one of these as its `onRequest` hook (checked at registration). */
  readonly access: AccessHooks;
  readonly configAdmin: ConfigAdmin;
  /** Open event streams, ended when the server closes (they would otherwise hold it open). */
  readonly openStreams: Set<SseResponse>;
}
