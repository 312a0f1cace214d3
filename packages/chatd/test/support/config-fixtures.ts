import type { ChatModelConfigRow, ChatProviderRow, UserRow } from '../../src/db/rows.js';
import type { Store } from '../../src/db/store.js';

/** A builtin provider, a default model config, a second config, a user with a prompt, a system prompt. */
export interface ConfigFixture {
  provider: ChatProviderRow;
  defaultConfig: ChatModelConfigRow;
  otherConfig: ChatModelConfigRow;
  user: UserRow;
}

let sequence = 0;

/** Seeds the configuration one turn reads, with unique names so several fixtures share a database. */
export async function seedConfig(store: Store): Promise<ConfigFixture> {
  sequence += 1;
  const provider = await store.insertChatProvider({
    provider: 'builtin',
    displayName: `Builtin ${sequence}`,
    apiKeyEncrypted: null,
    baseUrl: null,
    enabled: true,
  });
  await store.clearDefaultChatModelConfig();
  const defaultConfig = await store.insertChatModelConfig({
    providerId: provider.id,
    model: 'echo',
    displayName: `Echo ${sequence}`,
    enabled: true,
    isDefault: true,
    contextLimit: 4096,
    options: { temperature: 0.5 },
  });
  const otherConfig = await store.insertChatModelConfig({
    providerId: provider.id,
    model: 'inspect',
    displayName: `Inspect ${sequence}`,
    enabled: true,
    isDefault: false,
    contextLimit: 4096,
    options: {},
  });
  const user = await store.insertUser({ username: `fixture-user-${sequence}-${Date.now()}`, role: 'member' });
  await store.upsertUserChatPrompt(user.id, 'Answer in French.');
  await store.setSystemPrompt('You are a test assistant.');
  return { provider, defaultConfig, otherConfig, user };
}
