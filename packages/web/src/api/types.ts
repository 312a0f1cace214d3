/**
 * The API's JSON shapes as the web app uses them: names for the schemas of chatd's OpenAPI document
 * (generated into `@chatd/client`), so a change of the server's answers shows here as a type error.
 */
import type { components } from '@chatd/client';

type Schemas = components['schemas'];

export type User = Schemas['User'];
export type UserRole = User['role'];
export type UserAccount = Schemas['UserAccount'];
export type Session = Schemas['SessionInfo'];

export type ChatStatus = Schemas['ChatStatus'];
export type Chat = Schemas['Chat'];
export type Message = Schemas['Message'];
export type FinishReason = NonNullable<Message['finish_reason']>;
export type QueuedMessage = Schemas['QueuedMessage'];
export type ChatDetail = Schemas['ChatDetail'];
export type ChatPage = Schemas['ChatPage'];
/** What sending a message did: appended at once, or queued behind the running turn. */
export type SendResult = Schemas['SentMessage'];

export type Provider = Schemas['Provider'];
export type ProviderKind = Provider['provider'];
/** Every provider kind, in the order the provider form offers them. */
export const PROVIDER_KINDS: readonly ProviderKind[] = ['openai', 'openai-compat', 'anthropic', 'builtin'];
export type ModelConfig = Schemas['ModelConfig'];

export type ApiToken = Schemas['Token'];
export type IssuedApiToken = Schemas['IssuedToken'];

export type ConfigStatus = Schemas['ConfigStatus'];
export type ReplicaStatus = ConfigStatus['replicas'][number];

export type UsageReport = Schemas['UsageReport'];
export type UsageGrouping = UsageReport['group_by'];
export type UsageRow = UsageReport['rows'][number];

/** A chat's stream events and connection states, as `@chatd/client`'s follower hands them over. */
export type { ChatStreamEvent, StreamState } from '@chatd/client';
