/**
 * @chatd/client: chatd's HTTP API, typed from its OpenAPI document, for the web app, the scale test and
 * the tests alike.
 */
export { ChatdApiError, isChatdApiError } from './api-error.js';
export {
  type ApiErrorBody,
  type ApiResult,
  type ChatdClient,
  type ChatdClientOptions,
  createChatdClient,
  type DataOf,
  isAbort,
} from './chatd-client.js';
export type { components, paths } from './generated/api.js';
export { readServerSentEvents, type ServerSentEvent } from './server-sent-events.js';
export { logIn, logOut, restoreSession, type SessionInfo } from './sessions.js';
export type { ChatMessage, ChatStatus, ChatStreamEvent } from './stream-events.js';
export {
  type ChatStreamFollower,
  type FollowChatStreamOptions,
  followChatStream,
  type StreamState,
} from './stream-follower.js';
