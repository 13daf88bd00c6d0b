import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_IO, EXIT_USAGE } from '../cli-error.js';
import { ConsoleData } from '../console/console-data.js';
import { BUNDLE_DIR, isLoopback, startConsoleServer } from '../console/console-server.js';
import { existingStores, type GlobalOptions, trustFile, trustLocation } from '../global-options.js';
import { parseDurationMs } from '../parse-time.js';
import { storeFailure } from '../store-access.js';
import { escapeValue } from '../terminal-text.js';

interface ConsoleOptions {
  alerts?: string;
  port: string;
  host: string;
  jaeger?: string;
  indexDir?: string;
  retention?: string;
  refresh: string;
}

/** How often the console reads what the stores appended (the activity dashboard's refresh). */
const DEFAULT_REFRESH = '2s';
/** How long the tail reads before it lets requests in. */
const TAIL_SLICE_MS = 20;
/** How often each store is verified again for the integrity line and the compliance dashboard. */
const VERIFY_EVERY_MS = 10 * 60_000;

function defaultIndexDir(ctx: CliContext): string {
  const cache = ctx.env.XDG_CACHE_HOME || join(ctx.env.HOME || homedir(), '.cache');
  return join(cache, 'agent-audit', 'console-index');
}

export function consoleCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('console')
    .description(
      'serve the audit console: a read-only web app over the stores (runs search, run timeline with the six answers and integrity, activity/security/compliance dashboards)',
    )
    .option(
      '--alerts <dir>',
      "the watcher's alert store (agent-audit watch), for the security dashboard",
    )
    .option('--port <port>', 'TCP port (0 picks a free one)', '7600')
    .option(
      '--host <address>',
      'address to bind; any non-loopback address requires the access token printed at start',
      '127.0.0.1',
    )
    .option(
      '--jaeger <url>',
      "Jaeger's UI base URL, for a link from each run to its trace (e.g. http://localhost:16686)",
    )
    .option(
      '--index-dir <dir>',
      "where the console keeps the stores' query indexes (never inside a store) (default: $XDG_CACHE_HOME/agent-audit/console-index)",
    )
    .option(
      '--retention <duration>',
      'retention policy to hold each store against on the compliance dashboard (e.g. 90d)',
    )
    .option('--refresh <duration>', 'how often to read what the stores appended', DEFAULT_REFRESH)
    .addHelpText(
      'after',
      '\nRead-only: the console never writes to a store. API: docs/console-api.md. Stops on Ctrl-C.',
    )
    .action(async (options: ConsoleOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const port = Number(options.port);
      if (!/^\d{1,5}$/.test(options.port) || port > 65535) {
        throw new CliError(
          `invalid --port value "${escapeValue(options.port)}": expected a TCP port 0–65535`,
          EXIT_USAGE,
        );
      }
      const refreshMs = parseDurationMs(options.refresh);
      if (refreshMs === undefined || refreshMs < 100) {
        throw new CliError(
          `invalid --refresh value "${escapeValue(options.refresh)}": expected a duration such as 2s`,
          EXIT_USAGE,
        );
      }
      const retentionMs =
        options.retention === undefined ? undefined : parseDurationMs(options.retention);
      if (options.retention !== undefined && (retentionMs === undefined || retentionMs <= 0)) {
        throw new CliError(
          `invalid --retention value "${escapeValue(options.retention)}": expected a duration such as 90d`,
          EXIT_USAGE,
        );
      }
      if (options.jaeger !== undefined && !/^https?:\/\/[^\s]+$/.test(options.jaeger)) {
        throw new CliError(
          `invalid --jaeger value "${escapeValue(options.jaeger)}": expected an http(s) URL such as http://localhost:16686`,
          EXIT_USAGE,
        );
      }
      if (!existsSync(new URL('console.js', BUNDLE_DIR))) {
        throw new CliError(
          `the console's app bundle is missing (${fileURLToPath(new URL('console.js', BUNDLE_DIR))}): build it with "pnpm build" (or node packages/cli/scripts/build-console.mjs)`,
          EXIT_IO,
        );
      }
      const stores = existingStores(globals, ctx);
      const alerts =
        options.alerts === undefined
          ? undefined
          : {
              shown: options.alerts,
              path: isAbsolute(options.alerts) ? options.alerts : resolve(ctx.cwd, options.alerts),
            };
      const indexDir =
        options.indexDir === undefined ? defaultIndexDir(ctx) : resolve(ctx.cwd, options.indexDir);
      const publicKey = trustFile(ctx, 'public-key.pem');
      const anchor = trustFile(ctx, 'anchor.jsonl');
      let data: ConsoleData;
      try {
        data = new ConsoleData({
          stores,
          ...(alerts ? { alerts } : {}),
          indexDir,
          trust: {
            trustDir: trustLocation(ctx).path,
            ...(publicKey ? { publicKey: publicKey.path } : {}),
            anchorPath: anchor ? anchor.path : false,
          },
          ...(retentionMs !== undefined ? { retentionMs } : {}),
        });
      } catch (error) {
        throw storeFailure(error, stores[0]!);
      }
      // The query indexes are built and checked in a worker thread (ConsoleData): the console
      // listens at once; pages and GET /api/status say how far indexing got.
      const token = isLoopback(options.host) ? undefined : randomBytes(24).toString('base64url');
      let running: Awaited<ReturnType<typeof startConsoleServer>>;
      try {
        running = await startConsoleServer({
          data,
          host: options.host,
          port,
          ...(token ? { token } : {}),
          ...(options.jaeger ? { jaeger: options.jaeger } : {}),
          now: () => ctx.now(),
        });
      } catch (error) {
        await data.close();
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        throw new CliError(
          `cannot listen on ${escapeValue(options.host)}:${port} (${code}) — choose another --port (0 picks a free one) or --host`,
          EXIT_IO,
        );
      }
      ctx.writeOut(`agent-audit console (read-only) at ${running.url}/\n`);
      if (token) {
        ctx.writeOut(`access token (shown once; every request needs it): ${token}\n`);
        ctx.writeOut(`open ${running.url}/?token=${token}\n`);
      }
      ctx.writeErr(
        `reading ${stores.length} store(s): ${stores.map((s) => escapeValue(s.shown)).join(', ')}; Ctrl-C stops\n`,
      );

      // Read the stores in small slices, yielding every ~20 ms, so requests are answered
      // while a large store is read (a record costs about 0.1 ms to read into the table).
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const step = () => {
        if (stopped) return;
        let done = true;
        try {
          const until = performance.now() + TAIL_SLICE_MS;
          do done = data.tail(200);
          while (!done && performance.now() < until);
        } catch (error) {
          ctx.writeErr(
            `agent-audit console: reading the stores failed: ${escapeValue((error as Error).message)}\n`,
          );
        }
        timer = done ? setTimeout(step, refreshMs) : setTimeout(step, 0);
      };
      const verify = () => {
        if (stopped) return;
        void data.verifyAll().finally(() => {
          if (!stopped) verifyTimer = setTimeout(verify, VERIFY_EVERY_MS);
        });
      };
      let verifyTimer: NodeJS.Timeout | undefined;
      step();
      verify();
      await new Promise<void>((resolveStop) => {
        const stop = () => {
          stopped = true;
          if (timer) clearTimeout(timer);
          if (verifyTimer) clearTimeout(verifyTimer);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void running
            .close()
            .then(() => data.close())
            .then(resolveStop);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
