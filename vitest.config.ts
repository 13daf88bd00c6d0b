import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const src = (pkg: string, file = 'index.ts') =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${file}`, import.meta.url));

// Tests run against the TypeScript sources; processes that tests spawn run the built
// dist/ (pretest runs `tsc -b`), exactly as a user's `node --import` would.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@agent-audit\/canonical-json$/, replacement: src('canonical-json') },
      { find: /^@agent-audit\/instrumentation$/, replacement: src('instrumentation') },
      {
        find: /^@agent-audit\/instrumentation\/attributes$/,
        replacement: src('instrumentation', 'attributes.ts'),
      },
      { find: /^@agent-audit\/store$/, replacement: src('store') },
      { find: /^@agent-audit\/store\/query$/, replacement: src('store', 'query.ts') },
      { find: /^@agent-audit\/forwarder$/, replacement: src('forwarder') },
      { find: /^@agent-audit\/watch$/, replacement: src('watch') },
      { find: /^@agent-audit\/sdk$/, replacement: src('sdk') },
      { find: /^@agent-audit\/credentials$/, replacement: src('credentials') },
      { find: /^@agent-audit\/gateway$/, replacement: src('gateway') },
      { find: /^@agent-audit\/sdk\/register$/, replacement: src('sdk', 'register.ts') },
      { find: /^@agent-audit\/langchain$/, replacement: src('langchain') },
      { find: /^@agent-audit\/openai-agents$/, replacement: src('openai-agents') },
      { find: /^@agent-audit\/mcp$/, replacement: src('mcp') },
      { find: /^@agent-audit\/ai-sdk$/, replacement: src('ai-sdk') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    // `*.node22.test.ts` need Node >= 22 (ai@7, openai@7): `pnpm test:node22` runs them under
    // the pinned binary from tools/node (vitest.node22.config.ts).
    exclude: [...configDefaults.exclude, '**/*.node22.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
