import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_STORE_DIR,
  DEFAULT_TRUST_DIR,
  resolveStoreLocations,
} from '../src/store-locations.js';
import { resolveStorePaths } from '../src/store-paths.js';

describe('resolveStoreLocations', () => {
  const saved = {
    store: process.env.AGENT_AUDIT_STORE_DIR,
    trust: process.env.AGENT_AUDIT_TRUST_DIR,
  };
  afterEach(() => {
    for (const [name, value] of [
      ['AGENT_AUDIT_STORE_DIR', saved.store],
      ['AGENT_AUDIT_TRUST_DIR', saved.trust],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('falls back to the documented defaults with an empty environment', () => {
    expect(resolveStoreLocations({ env: {} })).toEqual({
      storeDir: './.agent-audit',
      storeDirSource: 'default',
      trustDir: './.agent-audit-trust',
      trustDirSource: 'default',
    });
    expect([DEFAULT_STORE_DIR, DEFAULT_TRUST_DIR]).toEqual([
      './.agent-audit',
      './.agent-audit-trust',
    ]);
  });

  it('takes the environment over the default and the option over the environment', () => {
    const env = { AGENT_AUDIT_STORE_DIR: '/env/store', AGENT_AUDIT_TRUST_DIR: '/env/trust' };
    expect(resolveStoreLocations({ env })).toEqual({
      storeDir: '/env/store',
      storeDirSource: 'env',
      trustDir: '/env/trust',
      trustDirSource: 'env',
    });
    expect(resolveStoreLocations({ env, storeDir: 'code-store' })).toEqual({
      storeDir: 'code-store',
      storeDirSource: 'option',
      trustDir: '/env/trust',
      trustDirSource: 'env',
    });
    expect(resolveStoreLocations({ env, trustDir: '/code/trust' }).trustDir).toBe('/code/trust');
  });

  it('treats an empty or blank environment value as unset, and trims a set one', () => {
    expect(
      resolveStoreLocations({ env: { AGENT_AUDIT_STORE_DIR: '', AGENT_AUDIT_TRUST_DIR: '  ' } }),
    ).toMatchObject({ storeDir: DEFAULT_STORE_DIR, trustDir: DEFAULT_TRUST_DIR });
    expect(resolveStoreLocations({ env: { AGENT_AUDIT_STORE_DIR: ' /s ' } }).storeDir).toBe('/s');
  });

  it('refuses an empty or non-string option with a Configuration message', () => {
    expect(() => resolveStoreLocations({ env: {}, storeDir: '' })).toThrow(
      'Configuration: storeDir is invalid, expected a non-empty directory path (actual: "")',
    );
    expect(() => resolveStoreLocations({ env: {}, trustDir: 42 as unknown as string })).toThrow(
      'Configuration: trustDir is invalid, expected a non-empty directory path (actual: 42)',
    );
  });

  it('reads process.env when called, not when imported', () => {
    process.env.AGENT_AUDIT_STORE_DIR = '/late/store';
    expect(resolveStoreLocations().storeDir).toBe('/late/store');
    process.env.AGENT_AUDIT_STORE_DIR = '';
    expect(resolveStoreLocations().storeDir).toBe(DEFAULT_STORE_DIR);
  });

  it('is what resolveStorePaths resolves (one resolver for every entry point)', () => {
    const paths = resolveStorePaths({ AGENT_AUDIT_STORE_DIR: '', AGENT_AUDIT_TRUST_DIR: '/t' });
    expect(paths.dir).toBe(`${process.cwd()}/.agent-audit`);
    expect(paths.trustDir).toBe('/t');
  });
});
