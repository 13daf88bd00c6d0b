/*
 * Whether a tool's error is a permission denial, and of which kind. The error is read, never
 * trusted to behave: every property read is guarded, the `cause` chain is followed a few levels
 * (fetch wraps its network error, SDKs wrap their HTTP error), and nothing here throws.
 */
import {
  PERMISSION_DENIAL_TYPES,
  type PermissionDenialType,
  ToolCallRefusedError,
} from './errors.js';

/** How deep the `cause` chain is followed. */
const MAX_CAUSES = 3;

const NETWORK_SYSCALL =
  /^(?:connect|bind|listen|accept|send|sendto|sendmsg|recv|getaddrinfo|socket)\b/;
const EXEC_SYSCALL = /^(?:spawn|uv_spawn|exec|execve|posix_spawn|kill|fork)\b/;
const SQL_DENIED = new Set([
  // PostgreSQL SQLSTATE insufficient_privilege
  '42501',
  // MySQL / MariaDB
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_COLUMNACCESS_DENIED_ERROR',
  'ER_SPECIFIC_ACCESS_DENIED_ERROR',
  'ER_PROCACCESS_DENIED_ERROR',
]);

/**
 * The denial type of a tool's error, or undefined when it is not a permission denial:
 * - {@link PermissionDeniedError} (or anything with a valid `denialType`) → that type;
 * - `code` EACCES/EPERM → `network` for a socket syscall, `code_execution` for spawn/exec/kill,
 *   else `filesystem`;
 * - Node's permission model (`ERR_ACCESS_DENIED`) → by its `permission` field;
 * - an HTTP 401/403 (`status`, `statusCode`, `response.status`, `response.statusCode`) → `network`;
 * - SQL insufficient privilege (PostgreSQL `42501`, MySQL `ER_*ACCESS_DENIED_ERROR`) → `data_access`.
 *
 * A {@link ToolCallRefusedError} (a nested audited call that the gate refused, or whose audit
 * record failed) is not this tool's denial: that call's own span records it, and its `cause`
 * (e.g. the store's EACCES) is the audit layer's, so it is not followed. The gate's own policy
 * `stop` is recorded as type `policy` by traceToolCall itself.
 */
export function permissionDenialOf(err: unknown): PermissionDenialType | undefined {
  let current: unknown = err;
  for (let i = 0; i <= MAX_CAUSES; i++) {
    if (current === null || typeof current !== 'object') return undefined;
    if (current instanceof ToolCallRefusedError) return undefined;
    const found = denialOfOne(current);
    if (found !== undefined) return found;
    current = get(current, 'cause');
  }
  return undefined;
}

function denialOfOne(err: object): PermissionDenialType | undefined {
  const declared = get(err, 'denialType');
  if (
    typeof declared === 'string' &&
    PERMISSION_DENIAL_TYPES.includes(declared as PermissionDenialType)
  ) {
    return declared as PermissionDenialType;
  }
  const code = get(err, 'code');
  if (code === 'EACCES' || code === 'EPERM') {
    const syscall = get(err, 'syscall');
    if (typeof syscall === 'string') {
      if (NETWORK_SYSCALL.test(syscall)) return 'network';
      if (EXEC_SYSCALL.test(syscall)) return 'code_execution';
    }
    return 'filesystem';
  }
  if (code === 'ERR_ACCESS_DENIED') return nodePermission(get(err, 'permission'));
  if (typeof code === 'string' && SQL_DENIED.has(code)) return 'data_access';
  if (isDeniedStatus(get(err, 'status')) || isDeniedStatus(get(err, 'statusCode'))) {
    return 'network';
  }
  const response = get(err, 'response');
  if (response !== null && typeof response === 'object') {
    if (isDeniedStatus(get(response, 'status')) || isDeniedStatus(get(response, 'statusCode'))) {
      return 'network';
    }
  }
  return undefined;
}

/** Node's `--permission` model names what was denied. */
function nodePermission(permission: unknown): PermissionDenialType {
  if (typeof permission === 'string') {
    if (permission.startsWith('FileSystem')) return 'filesystem';
    if (permission === 'Net' || permission === 'Inspector') return 'network';
    if (/^(?:ChildProcess|Worker|Addon|WASI)$/.test(permission)) return 'code_execution';
  }
  return 'code_execution';
}

function isDeniedStatus(status: unknown): boolean {
  if (typeof status === 'number') return status === 401 || status === 403;
  if (typeof status === 'string') return status === '401' || status === '403';
  return false;
}

function get(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}
