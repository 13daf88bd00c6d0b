import type { VerifyProblem } from '../types.js';
import { kindOf, type VerifyProblemCode } from './problem-codes.js';

const MAX_LISTED = 200;
const RANK = { warning: 0, unverifiable: 1, io: 2, tampering: 3 } as const;

/**
 * The problems and warnings of one verification, at most 200 of each listed (the rest are
 * counted), and the exit code they add up to: tampering (1) over I/O (3) over unverifiable (2).
 */
export class ProblemLog {
  readonly problems: VerifyProblem[] = [];
  readonly warnings: VerifyProblem[] = [];
  #omitted = 0;
  #worst = 0;

  add(code: VerifyProblemCode, message: string, segment?: number, seq?: number): void {
    const kind = kindOf(code);
    const problem: VerifyProblem = { code, kind, message };
    if (segment !== undefined) problem.segment = segment;
    if (seq !== undefined) problem.seq = seq;
    const list = kind === 'warning' ? this.warnings : this.problems;
    if (list.length >= MAX_LISTED) {
      this.#omitted += 1;
    } else {
      list.push(problem);
    }
    this.#worst = Math.max(this.#worst, RANK[kind]);
  }

  has(code: VerifyProblemCode): boolean {
    return this.problems.some((p) => p.code === code) || this.warnings.some((p) => p.code === code);
  }

  get exitCode(): 0 | 1 | 2 | 3 {
    return this.#worst === 3 ? 1 : this.#worst === 2 ? 3 : this.#worst === 1 ? 2 : 0;
  }

  /** Adds the `PROBLEMS_OMITTED` warning when anything was left off; call once, at the end. */
  close(): void {
    if (this.#omitted > 0) {
      this.warnings.push({
        code: 'PROBLEMS_OMITTED',
        kind: 'warning',
        message: `${this.#omitted} further problems or warnings not listed`,
      });
    }
  }
}
