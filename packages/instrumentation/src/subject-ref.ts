import { createHmac } from 'node:crypto';
import { secretKeyProblem } from './secret-key.js';

/**
 * Data-subject references (`data.subjects`): a person's identifier (`customer:981`, an email)
 * is never recorded; `subj:<key-id>:<32 hex>` (128 bits of HMAC-SHA256 under the subject key)
 * is. The same identifier and key give the same reference everywhere, so
 * `agent-audit runs --subject customer:981` finds the runs; without the key the identifier
 * cannot be recovered or tested. No OpenTelemetry import: the CLI computes references with it
 * (`@agent-audit/instrumentation/subject-ref`).
 */

/** The subject key: `id` names it in every reference, `secret` is at least 16 bytes. */
export interface SubjectKey {
  id: string;
  secret: string | Uint8Array;
}

/** Every reference starts with this. */
export const SUBJECT_REF_PREFIX = 'subj:';

const SUBJECT_REF = /^subj:[A-Za-z0-9._-]{1,64}:[0-9a-f]{32}$/;
// Domain separation: a subject reference never equals an input hash or a credential reference.
const DOMAIN = 'agent-audit/data-subject/v1\u0000';

/** Whether `value` is already a subject reference (then it is recorded as it is). */
export function isSubjectRef(value: string): boolean {
  return SUBJECT_REF.test(value);
}

/** Why `key` cannot be a subject key, or undefined when it can. */
export function subjectKeyProblem(key: unknown): string | undefined {
  return secretKeyProblem(key);
}

/**
 * The reference of one data subject's identifier, taken exactly as given (UTF-8, no case or
 * space folding: `Customer:981` and `customer:981` are different subjects). A value that is
 * already a reference is returned unchanged.
 */
export function subjectRef(identifier: string, key: SubjectKey): string {
  if (isSubjectRef(identifier)) return identifier;
  const mac = createHmac('sha256', key.secret)
    .update(DOMAIN)
    .update(identifier, 'utf8')
    .digest('hex')
    .slice(0, 32);
  return `${SUBJECT_REF_PREFIX}${key.id}:${mac}`;
}
