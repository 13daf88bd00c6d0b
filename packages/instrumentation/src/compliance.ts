import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_AUTHORIZATION_METHOD,
  ATTR_DATA_CLASSIFICATION,
  ATTR_DATA_SUBJECTS,
  ATTR_RETENTION_POLICY,
} from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import {
  checkObject,
  checkOptionalString,
  checkStringArray,
  configurationError,
} from './internal/configuration.js';
import type { AuthorizationMethod } from './policy.js';
import { isSubjectRef, subjectRef } from './subject-ref.js';

/** Compliance fields, recorded where relevant on a run or a tool call. */
export interface ComplianceFields {
  /** `authorization.method`; set automatically on a tool call decided by a policy or approval. */
  authorizationMethod?: AuthorizationMethod;
  /**
   * The people whose data is affected, e.g. `customer:981`. Recorded as `data.subjects`
   * keyed references (`subj:<key-id>:<32 hex>`, see `subjectRef`), never the identifiers: the
   * subject key comes from `setAuditHooks({ subjectKey })` (registerAgentAudit loads it from
   * the trust directory). Values that are already references are recorded as they are.
   */
  dataSubjects?: string[];
  /** `data.classification`, e.g. `public`, `internal`, `confidential`, `restricted`. */
  dataClassification?: string;
  /** `retention.policy`, e.g. `audit-7y`. */
  retentionPolicy?: string;
}

export function putCompliance(a: Attributes, c: ComplianceFields | undefined): void {
  if (c === undefined) return;
  if (c.authorizationMethod !== undefined) a[ATTR_AUTHORIZATION_METHOD] = c.authorizationMethod;
  if (c.dataSubjects !== undefined) {
    const key = getAuditHooks().subjectKey;
    // checkCompliance refused raw identifiers without a key: none can reach the span here.
    a[ATTR_DATA_SUBJECTS] = c.dataSubjects
      .map((s) => (key === undefined ? s : subjectRef(s, key)))
      .filter(isSubjectRef);
  }
  if (c.dataClassification !== undefined) a[ATTR_DATA_CLASSIFICATION] = c.dataClassification;
  if (c.retentionPolicy !== undefined) a[ATTR_RETENTION_POLICY] = c.retentionPolicy;
}

export function checkCompliance(c: unknown): void {
  if (c === undefined) return;
  checkObject('compliance', c);
  const f = c as Record<string, unknown>;
  for (const k of ['authorizationMethod', 'dataClassification', 'retentionPolicy']) {
    checkOptionalString(`compliance.${k}`, f[k]);
  }
  checkStringArray('compliance.dataSubjects', f.dataSubjects);
  const subjects = f.dataSubjects as string[] | undefined;
  if (subjects !== undefined && getAuditHooks().subjectKey === undefined) {
    const raw = subjects.filter((s) => !isSubjectRef(s)).length;
    // The identifiers themselves are personal data: counted, never echoed.
    if (raw > 0) {
      throw configurationError(
        'compliance.dataSubjects',
        'subject references (subj:…), or a subject key to make them: registerAgentAudit() loads <trust dir>/subject-key.json, or setAuditHooks({ subjectKey })',
        `${raw} raw identifier(s) and no subject key`,
      );
    }
  }
}
