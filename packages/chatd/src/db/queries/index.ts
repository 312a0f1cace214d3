import * as apiTokens from './api-tokens.js';
import * as chatDeletion from './chat-deletion.js';
import * as chatHistoryEdits from './chat-history-edits.js';
import * as chatMessages from './chat-messages.js';
import * as chatModelConfigs from './chat-model-configs.js';
import * as chatPages from './chat-pages.js';
import * as chatProviderApiKeys from './chat-provider-api-keys.js';
import * as chatProviders from './chat-providers.js';
import * as chatQueuedMessages from './chat-queued-messages.js';
import * as chatSummaries from './chat-summaries.js';
import * as chatUsage from './chat-usage.js';
import * as chats from './chats.js';
import * as configVersion from './config-version.js';
import * as deploymentSettings from './deployment-settings.js';
import * as loginFailures from './login-failures.js';
import * as notificationQueue from './notification-queue.js';
import * as replicas from './replicas.js';
import * as schemaVersion from './schema-version.js';
import * as secretsKeyCheck from './secrets-key-check.js';
import * as userChatPrompts from './user-chat-prompts.js';
import * as userSessions from './user-sessions.js';
import * as users from './users.js';

/**
 * Every named query, one function each, taking the connection (pool or transaction) first. The name is
 * the metric label (`chatd_db_queries_total{query="getEnabledChatProviders"}`).
 */
export const queries = Object.freeze({
  ...users,
  ...apiTokens,
  ...userSessions,
  ...loginFailures,
  ...chatProviders,
  ...chatModelConfigs,
  ...userChatPrompts,
  ...deploymentSettings,
  ...chats,
  ...chatMessages,
  ...chatHistoryEdits,
  ...chatQueuedMessages,
  ...chatUsage,
  ...chatPages,
  ...chatDeletion,
  ...chatSummaries,
  ...replicas,
  ...configVersion,
  ...schemaVersion,
  ...notificationQueue,
  ...chatProviderApiKeys,
  ...secretsKeyCheck,
});

/** The names of every query. */
export type QueryName = keyof typeof queries;
