import { hash } from 'node:crypto';
import type { RunAttributes } from './run-context.js';

/** The runtime's decision model. */
export type DecisionOutcome = 'allow' | 'stop' | 'approval_required';

/** Whom a decision (and its action key) applies to. */
export type DecisionScope = 'user' | 'tenant' | 'global';

/** How an executed action was authorized (`authorization.method`). */
export type AuthorizationMethod = 'policy' | 'human_approval' | 'just_in_time' | (string & {});

/** What a policy hook returns. */
export interface PolicyDecision {
  readonly outcome: DecisionOutcome;
  readonly reason?: string | undefined;
  /** `decision.policy`: id of the policy (rule set) that decided. */
  readonly policyId?: string | undefined;
  readonly policyVersion?: string | undefined;
  /** The default value is the call's scope. */
  readonly scope?: DecisionScope | undefined;
}

/** The action a policy hook is asked about, before the tool runs. */
export interface ProposedAction {
  readonly toolName: string;
  readonly toolVersion?: string | undefined;
  /** The raw arguments, in process only; never recorded. */
  readonly input: unknown;
  /** `input.hash` of the arguments (undefined when they could not be hashed). */
  readonly inputHash: string | undefined;
  /** Stable de-duplication key: tool, version, arguments hash and scope. */
  readonly actionKey: string;
  readonly scope: DecisionScope;
  readonly run: RunAttributes | undefined;
  /** The approval attached to this call, if any (already checked against `inputHash`). */
  readonly approval: ApprovalReceipt | undefined;
}

/** Decides whether a tool call may run. May be async; its own errors propagate unchanged. */
export type PolicyHook = (action: ProposedAction) => PolicyDecision | Promise<PolicyDecision>;

/** Carried by {@link ApprovalRequiredError}: what a human must decide on. */
export interface ApprovalRequest {
  readonly approvalId: string;
  readonly runId: string | undefined;
  readonly toolName: string;
  readonly toolVersion: string | undefined;
  readonly actionKey: string;
  /** `input.hash` of the proposed arguments. */
  readonly inputHash: string | undefined;
  /** The proposed arguments, in process only (to show the approver); never recorded. */
  readonly input: unknown;
  readonly decision: PolicyDecision;
}

/** What `recordApproval` returns and `traceToolCall({ approval })` accepts. */
export interface ApprovalReceipt {
  readonly approvalId: string;
  readonly runId: string | undefined;
  readonly toolName: string;
  readonly actionKey: string;
  readonly approver: string;
  readonly decision: 'approved' | 'rejected';
  /** ISO 8601 time of the human decision. */
  readonly time: string;
  /** `input.hash` of the arguments as approved (after edits): binds the approval to them. */
  readonly inputHash: string | undefined;
  /** `input.hash` of the arguments originally proposed. */
  readonly proposedHash: string | undefined;
  /** Hash of what the approver was shown. */
  readonly shownHash: string | undefined;
  /** Names of the top-level argument fields the approver changed. */
  readonly edits: readonly string[];
  /** The approved arguments, in process only: call the tool with exactly these. */
  readonly approvedInput: unknown;
  readonly note?: string | undefined;
  /**
   * `hmac-sha256:<key-id>:<hex>` over the receipt's decision fields, made with the hooks' hash
   * key. With it a receipt survives serialization (an approval given in another process);
   * without a key only receipts issued by `recordApproval` in this process are accepted.
   */
  readonly proof?: string | undefined;
}

export const DECISION_OUTCOMES: readonly DecisionOutcome[] = ['allow', 'stop', 'approval_required'];
export const DECISION_SCOPES: readonly DecisionScope[] = ['user', 'tenant', 'global'];

/**
 * `ak:<sha256 hex>` over the tool, its version, the arguments hash and the scope subject (the
 * principal for `user`, the tenant for `tenant`, nothing for `global`), so the same action by
 * the same subject always gets the same key and the key reveals none of them.
 */
export function actionKeyOf(
  toolName: string,
  toolVersion: string | undefined,
  inputHash: string | undefined,
  scope: DecisionScope,
  run: RunAttributes | undefined,
): string {
  const subject =
    scope === 'user'
      ? (run?.triggerPrincipal ?? '')
      : scope === 'tenant'
        ? (run?.tenantId ?? '')
        : '';
  // Length-prefixed fields: no two different tuples can produce the same byte string.
  const version = toolVersion ?? '';
  const input = inputHash ?? '';
  return `ak:${hash(
    'sha256',
    `${toolName.length}:${toolName};${version.length}:${version};${input.length}:${input};${scope.length}:${scope};${subject.length}:${subject};`,
    'hex',
  )}`;
}
