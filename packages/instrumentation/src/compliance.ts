import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_AUTHORIZATION_METHOD,
  ATTR_DATA_CLASSIFICATION,
  ATTR_DATA_SUBJECTS,
  ATTR_RETENTION_POLICY,
} from './attributes.js';
import { checkObject, checkOptionalString, checkStringArray } from './internal/configuration.js';
import type { AuthorizationMethod } from './policy.js';

/** Compliance fields, recorded where relevant on a run or a tool call. */
export interface ComplianceFields {
  /** `authorization.method`; set automatically on a tool call decided by a policy or approval. */
  authorizationMethod?: AuthorizationMethod;
  /** `data.subjects`: references of the people whose data is affected, e.g. `customer:981`. */
  dataSubjects?: string[];
  /** `data.classification`, e.g. `public`, `internal`, `confidential`, `restricted`. */
  dataClassification?: string;
  /** `retention.policy`, e.g. `audit-7y`. */
  retentionPolicy?: string;
}

export function putCompliance(a: Attributes, c: ComplianceFields | undefined): void {
  if (c === undefined) return;
  if (c.authorizationMethod !== undefined) a[ATTR_AUTHORIZATION_METHOD] = c.authorizationMethod;
  if (c.dataSubjects !== undefined) a[ATTR_DATA_SUBJECTS] = [...c.dataSubjects];
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
}
