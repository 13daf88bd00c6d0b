// Runs the three steps every red-team attack is judged by: verify before a restart, a restart
// of the real writer, verify after it. Each outcome is also appended to
// $REDTEAM_LOG (default <tmp>/agent-audit-redteam.jsonl) for the report table.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Lab, restart, type Verdict, verify } from './redteam-kit.js';

export interface Outcome {
  before: Verdict;
  restart: string;
  after: Verdict;
}

const LOG = process.env.REDTEAM_LOG ?? path.join(os.tmpdir(), 'agent-audit-redteam.jsonl');

export async function judge(
  name: string,
  lab: Lab,
  dir: string,
  extra: string[] = [],
): Promise<Outcome> {
  const before = verify(lab, dir, extra);
  const restarted = await restart(lab, dir);
  const after = verify(lab, dir, extra);
  fs.appendFileSync(
    LOG,
    `${JSON.stringify({
      name,
      before: { exit: before.exit, codes: before.codes, warnings: before.warnings },
      restart: restarted,
      after: { exit: after.exit, codes: after.codes, warnings: after.warnings },
    })}\n`,
  );
  return { before, restart: restarted, after };
}

/** The invariant of issue 9: tampering never verifies, before or after a writer restart. */
export function neverVerified(o: Outcome): void {
  if (o.before.exit === 0 || o.after.exit === 0) {
    throw new Error(
      `attack reached exit 0: before ${o.before.exit} [${o.before.codes}] · restart ${o.restart} · after ${o.after.exit} [${o.after.codes}]`,
    );
  }
}
