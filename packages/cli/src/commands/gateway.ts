import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_IO } from '../cli-error.js';

/**
 * `agent-audit gateway --config FILE`: serves until SIGINT/SIGTERM, then closes its store.
 * The gateway package (and the SDK it records with) is loaded only by this command.
 */
export function gatewayCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('gateway')
    .description(
      "phantom-token gateway for the agent's outbound API calls: verifies the run token, checks method/host/path against its scopes, swaps in the real credential, forwards, and records every call (allowed or refused) in its own audit store, in the run's trace",
    )
    .requiredOption('--config <file>', 'the gateway configuration (YAML; see the gateway README)')
    .addHelpText(
      'after',
      '\nThe agent uses http://<gateway>/<upstream>/… as the API base URL (or the gateway as HTTP_PROXY for http:// targets) and sends only its run token: Authorization: Bearer aat1.…',
    )
    .action(async (options: { config: string }) => {
      const { GatewayConfigError, startGatewayProcess } = await import('@agent-audit/gateway');
      let running: Awaited<ReturnType<typeof startGatewayProcess>>;
      try {
        running = await startGatewayProcess(options.config, {
          env: ctx.env,
          writeOut: (t) => ctx.writeOut(t),
          writeErr: (t) => ctx.writeErr(t),
        });
      } catch (error) {
        if (error instanceof GatewayConfigError) throw new CliError(error.message, EXIT_IO);
        const code = (error as NodeJS.ErrnoException).code;
        if (typeof code === 'string') {
          throw new CliError(`gateway (${options.config}): ${(error as Error).message}`, EXIT_IO);
        }
        throw error;
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          running.stop().then(resolve, (error: unknown) => {
            ctx.writeErr(
              `agent-audit gateway: closing the store failed: ${(error as Error).message}\n`,
            );
            resolve();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
