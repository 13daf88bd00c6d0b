#!/usr/bin/env node
import { processContext } from './cli-context.js';
import { runCli } from './program.js';

// `agent-audit … | head` closes stdout early; that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// exitCode, not exit(): stdout may be a pipe still draining the JSON.
process.exitCode = await runCli(process.argv.slice(2), processContext());
