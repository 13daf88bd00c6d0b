/**
 * Where the store and its trust material live, decided in one place for every entry point
 * (the SDK's registerAgentAudit, the CLI, the forwarder): the option given in code, else the
 * environment variable, else the default. Paths are returned as given (relative paths stay
 * relative); callers resolve them against their working directory.
 */

/** Environment variable naming the store directory. */
export const STORE_DIR_ENV = 'AGENT_AUDIT_STORE_DIR';
/** Environment variable naming the trust directory (signing key, public key, anchor). */
export const TRUST_DIR_ENV = 'AGENT_AUDIT_TRUST_DIR';
/** The store directory when neither an option nor `AGENT_AUDIT_STORE_DIR` names one. */
export const DEFAULT_STORE_DIR = './.agent-audit';
/** The trust directory when neither an option nor `AGENT_AUDIT_TRUST_DIR` names one. */
export const DEFAULT_TRUST_DIR = './.agent-audit-trust';

/** Where a location came from: the code option, the environment, or the default. */
export type LocationSource = 'option' | 'env' | 'default';

export interface StoreLocationOptions {
  /** Store directory given in code (or on a command line). Wins over the environment. */
  storeDir?: string | undefined;
  /** Trust directory given in code (or on a command line). Wins over the environment. */
  trustDir?: string | undefined;
  /** The environment to read. The default value is `process.env`, read at the call. */
  env?: Record<string, string | undefined>;
}

export interface StoreLocations {
  storeDir: string;
  storeDirSource: LocationSource;
  trustDir: string;
  trustDirSource: LocationSource;
}

/**
 * The store and trust directories in effect. Precedence: option > env > default. An
 * environment value that is empty or only blanks counts as unset (a shell's `VAR=` is not a
 * request for the current directory); an option that is not a non-empty string throws
 * `Configuration: … is invalid`.
 */
export function resolveStoreLocations(options: StoreLocationOptions = {}): StoreLocations {
  const env = options.env ?? process.env;
  const store = pick('storeDir', options.storeDir, env[STORE_DIR_ENV], DEFAULT_STORE_DIR);
  const trust = pick('trustDir', options.trustDir, env[TRUST_DIR_ENV], DEFAULT_TRUST_DIR);
  return {
    storeDir: store.value,
    storeDirSource: store.source,
    trustDir: trust.value,
    trustDirSource: trust.source,
  };
}

function pick(
  name: string,
  option: unknown,
  envValue: string | undefined,
  fallback: string,
): { value: string; source: LocationSource } {
  if (option !== undefined) {
    if (typeof option !== 'string' || option.trim() === '') {
      throw new Error(
        `Configuration: ${name} is invalid, expected a non-empty directory path (actual: ${JSON.stringify(option) ?? typeof option})`,
      );
    }
    return { value: option, source: 'option' };
  }
  const fromEnv = envValue?.trim();
  if (fromEnv) return { value: fromEnv, source: 'env' };
  return { value: fallback, source: 'default' };
}
