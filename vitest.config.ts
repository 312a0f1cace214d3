import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { isArrayTypesQueryFailure } from './packages/chatd/src/db/dropped-driver-rejections.js';

const cacheSource = fileURLToPath(new URL('./packages/cache/src/index.ts', import.meta.url));
const clientSource = fileURLToPath(new URL('./packages/client/src/index.ts', import.meta.url));
const clientNodeSource = fileURLToPath(new URL('./packages/client/src/node-fetch.ts', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@chatd\/cache$/, replacement: cacheSource },
      { find: /^@chatd\/client$/, replacement: clientSource },
      { find: /^@chatd\/client\/node$/, replacement: clientNodeSource },
    ],
  },
  test: {
    // The rejection postgres.js drops when a new connection dies while it reads the array types (tests
    // restart and cut PostgreSQL): harmless, and chatd server ignores it too (dropped-driver-rejections.ts).
    onUnhandledError: (error) => (isArrayTypesQueryFailure(error as { query?: unknown }) ? false : undefined),
    projects: [
      {
        extends: true,
        test: { name: 'cache', include: ['packages/cache/test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'client',
          include: ['packages/client/test/**/*.test.ts'],
          globalSetup: ['packages/chatd/test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'chatd',
          include: ['packages/chatd/test/**/*.test.ts'],
          globalSetup: ['packages/chatd/test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          // The built web app in a real Chromium against real chatd replicas (and its build's budget).
          name: 'web',
          include: ['packages/web/test/**/*.test.ts'],
          globalSetup: ['packages/chatd/test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
