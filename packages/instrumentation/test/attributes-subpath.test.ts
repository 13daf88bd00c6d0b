import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as attributes from '../src/attributes.js';
import * as main from '../src/index.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

// A child process imports the built subpath by its published name (the package refers to itself
// through its exports map) with a resolve hook that reports every module it loads. The second
// import is a sentinel: messages on a port arrive in order, so once it is seen, every module the
// subpath pulled in has been reported.
const CHILD = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const loaded = [];
const hooks = 'let port; export function initialize(d) { port = d.port; }' +
  ' export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }';
register('data:text/javascript,' + encodeURIComponent(hooks), { data: { port: port2 }, transferList: [port2] });
const sentinel = 'data:text/javascript,export default 1';
const seen = new Promise((done) => port1.on('message', (url) => { loaded.push(url); if (url === sentinel) done(); }));
const names = await import('@agent-audit/instrumentation/attributes');
if (process.env.ALSO_IMPORT) await import(process.env.ALSO_IMPORT);
await import(sentinel);
await seen;
port1.close();
console.log(JSON.stringify({ runId: names.ATTR_WORKFLOW_RUN_ID, violation: names.VIOLATION_NO_RUN_CONTEXT, loaded }));
`;

function loadInChild(
  env: Record<string, string> = {},
): Promise<{ runId: string; violation: string; loaded: string[] }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', CHILD],
      { cwd: PACKAGE_DIR, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

describe('@agent-audit/instrumentation/attributes', () => {
  it('loads without OpenTelemetry (built dist, by its package name)', async () => {
    expect(existsSync(`${PACKAGE_DIR}dist/attributes.js`), 'run "pnpm build" first').toBe(true);
    const child = await loadInChild();
    expect(child.runId).toBe('workflow.run_id');
    expect(child.violation).toBe('no_run_context');
    expect(child.loaded.some((url) => url.endsWith('/dist/attributes.js'))).toBe(true);
    expect(child.loaded.filter((url) => url.includes('opentelemetry'))).toEqual([]);
  });

  it('the same check sees OpenTelemetry when it is loaded (the detector works)', async () => {
    const child = await loadInChild({ ALSO_IMPORT: '@opentelemetry/api' });
    expect(child.loaded.some((url) => url.includes('/@opentelemetry/api/'))).toBe(true);
  });

  it('holds the same names as the main entry, and the violation codes', () => {
    const byName = new Map<string, unknown>(Object.entries(attributes));
    for (const [name, value] of Object.entries(main)) {
      if (/^(ATTR|GEN_AI|ERROR_TYPE)_/.test(name)) {
        expect(byName.get(name), name).toBe(value);
      }
    }
    expect(attributes.VIOLATION_CREDENTIAL_REF_LOOKS_LIKE_SECRET).toBe(
      'credential_ref_looks_like_secret',
    );
    expect(attributes.VIOLATION_MISSING_MANDATORY_ATTRIBUTE).toBe('missing_mandatory_attribute');
  });
});
