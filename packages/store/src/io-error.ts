import { StoreError } from './errors.js';

/** Turn an OS error into a StoreError that names the store and says how to fix it. */
export function ioError(dir: string, what: string, error: unknown): StoreError {
  const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  const reason = (error as Error).message;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreError(
        'STORE_DISK_FULL',
        `audit store ${dir}: disk full while ${what} (${code}); free space on that volume or move the store (AGENT_AUDIT_STORE_DIR). The record was not written.`,
        { dir, cause: error },
      );
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
      return new StoreError(
        'STORE_NOT_WRITABLE',
        `audit store ${dir}: cannot write while ${what} (${code}: ${reason}); mount the volume read-write or grant this user write access, or point AGENT_AUDIT_STORE_DIR at a writable directory. verify and queries still work read-only.`,
        { dir, cause: error },
      );
    case 'ELOOP':
      return new StoreError(
        'STORE_SYMLINK',
        `audit store ${dir}: refused a symlink planted in the store while ${what} (${code}: ${reason}); the writer never writes through a link inside the store. Move the link aside and check who could write the store.`,
        { dir, cause: error },
      );
    case 'EIO':
      return new StoreError(
        'STORE_IO_ERROR',
        `audit store ${dir}: I/O error while ${what} (${code}); the disk may be failing. Records not acknowledged are not durable; check the device, then run agent-audit verify.`,
        { dir, cause: error },
      );
    default:
      return new StoreError(
        'STORE_IO_ERROR',
        `audit store ${dir}: ${what} failed (${code}: ${reason})`,
        {
          dir,
          cause: error,
        },
      );
  }
}
