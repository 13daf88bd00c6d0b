import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The tests that need Node >= 22 (the current majors of the AI SDK and of the OpenAI Agents
// SDK declare it). `pnpm test:node22` runs this config under tools/node/bin/node; the main
// config excludes these files, so every test runs exactly once. Not mergeConfig: it would
// concatenate the include and exclude lists instead of replacing them.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'packages/*/test/**/*.node22.test.ts',
      'test/**/*.node22.test.ts',
      'examples/*/test/**/*.node22.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
  },
});
