import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashValue, runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeCollector, startFakeCollector } from '../support/fake-collector.js';

// issue 5, RELIABILITY row 32: secrets planted in attributes, events, status messages, exception
// stack traces and span names are redacted before both sinks. Every file the store directory
// holds and every byte the OTLP endpoint receives is scanned for them: zero hits.

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

describe('secrets never reach the store or the OTLP endpoint', () => {
  let root: string;
  let fake: FakeCollector;
  let audit: AgentAuditHandle;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'aa-redact-'));
    fake = await startFakeCollector();
    audit = registerAgentAudit({
      serviceName: 'redaction-agent',
      storeDir: join(root, 'store'),
      trustDir: join(root, 'trust'),
      otlpEndpoint: fake.tracesUrl,
      installExitHandlers: false,
    });
  });
  afterAll(async () => {
    await audit?.shutdown();
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('finds none of the planted secrets anywhere', async () => {
    // Built at run time: no secret-looking literal lives in the repository.
    const secrets = {
      openai: `sk-${'proj'}-${'A1b2C3d4'.repeat(5)}`,
      aws: `AKIA${'IOSFODNN7EXAMPL'}E`,
      github: `ghp_${'x7Y8z9'.repeat(6)}`,
      jwt: `eyJhbGciOiJIUzI1NiJ9.${'eyJzdWIiOiJ1c2VyLTEifQ'}.${'c2lnbmF0dXJl'.repeat(3)}`,
      pem: `-----BEGIN ${'PRIVATE KEY'}-----\n${'MIIEvQ'.repeat(10)}\n-----END ${'PRIVATE KEY'}-----`,
      bearer: `Bearer ${'opaque'}${'T0ken'.repeat(6)}`,
      urlCreds: `https://deploy:${'hunter2'}${'pw'.repeat(4)}@git.example.com/repo.git`,
      urlToken: `https://api.example.com/v1/items?token=${'q'.repeat(12)}${'9'.repeat(8)}`,
    };
    const secretValues = Object.values(secrets);
    // Fragments that must not survive either (the distinctive middle of each secret).
    const fragments = [
      'A1b2C3d4A1b2C3d4',
      'IOSFODNN7EXAMPL',
      'x7Y8z9x7Y8z9',
      'eyJzdWIiOiJ1c2VyLTEifQ',
      'MIIEvQMIIEvQ',
      'T0kenT0ken',
      'hunter2pwpw',
      'qqqqqqqqqqqq99999999',
    ];

    await runWorkflow(
      {
        agentId: 'redaction-agent',
        triggerPrincipal: 'user:ann@example.com',
        credentialRef: 'cred-ref:vault/ann',
        input: { prompt: `use ${secrets.openai}` },
      },
      async () => {
        await traceToolCall(
          {
            toolName: 'call_api',
            input: { auth: secrets.bearer },
            reason: `calling with ${secrets.aws} and ${secrets.github}`,
          },
          ({ span }) => {
            span.addEvent('request', {
              'http.request.header.authorization': secrets.bearer,
              'url.full': secrets.urlToken,
            });
            span.setAttribute('config.dump', `key=${secrets.pem}`);
          },
        );
        await traceToolCall({ toolName: 'git_push', input: { repo: 1 } }, () => {
          throw new Error(`push to ${secrets.urlCreds} failed with ${secrets.jwt}`);
        }).catch(() => undefined);
        // An auto-instrumentation-like client span with the secret in its name and URL.
        // (The root workspace does not depend on @opentelemetry/api: the provider's tracer and
        // SpanKind.CLIENT's value, 2, stand in for it.)
        const span = audit.provider
          .getTracer('http-client-like')
          .startSpan(`GET ${secrets.urlToken}`, {
            kind: 2,
            attributes: { 'url.full': secrets.urlToken, 'http.request.method': 'GET' },
          });
        span.end();
      },
    );
    // A credential reference that is really a credential is refused, not recorded.
    await runWorkflow({ agentId: 'redaction-agent', credentialRef: secrets.github, input: 1 }, () =>
      traceToolCall({ toolName: 'noop', input: 1 }, () => 1),
    );
    await audit.forceFlush();
    const drained = await audit.forwarder!.drain({ timeoutMillis: 30_000 });
    expect(drained.ok).toBe(true);

    const storeBytes = filesUnder(join(root, 'store'))
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n');
    const sentBytes = fake.requests.map((r) => r.body.toString('latin1')).join('\n');
    expect(fake.acceptedSpanIds().size).toBeGreaterThanOrEqual(6);
    for (const [where, bytes] of [
      ['store', storeBytes],
      ['OTLP payloads', sentBytes],
    ] as const) {
      const hits = [...secretValues, ...fragments].filter((s) => bytes.includes(s));
      expect(hits, `secrets found in ${where}`).toEqual([]);
      expect(bytes).toContain('[REDACTED:');
    }
    // Counted, never the values: the tool span says how many values it lost and of which kinds.
    expect(sentBytes).toContain('audit.redactions');
    expect(sentBytes).toContain('audit.redaction_kinds');
    // The principal is an identity, not personal data to mask.
    expect(sentBytes).toContain('user:ann@example.com');
  });
  it('scans event names, attribute keys and link attributes too, and flags unsafe text (rows 43, 44)', async () => {
    // Built at run time, as above.
    const npm = `npm_${'Qw3rTy7uIo'.repeat(3)}Pa5sDf`;
    const gitlab = `glpat-${'Xy9Zw8Vu7T'.repeat(2)}`;
    const hf = `hf_${'AbCdEfGhIj'.repeat(3)}KlMn`;
    const password = `Zq8/#@:%${'k2'.repeat(3)}`;
    const dsn = `mongodb+srv://svc:${password}@cluster0.example.net/db`;
    const secrets = [npm, gitlab, hf, password];
    const input = { text: 'pay \u202eoffice\u202c 100', n: 1 };
    const reason = 'render \u001b[2J\u001b]0;pwned\u0007 the report';

    await runWorkflow(
      { agentId: 'redaction-agent', credentialRef: 'cred-ref:vault/ann', input: 1 },
      async () => {
        await traceToolCall(
          { toolName: 'render', input, reason, captureContent: true },
          ({ span }) => {
            span.addEvent(`connect ${dsn}`, { [`token.${gitlab}`]: 'k' });
            span.setAttribute(`cache.${hf}`, 'hit');
            // A map value (OTLP kvlist), which sdk-trace 3 keeps: scanned inside, keys too.
            (span.setAttribute as (key: string, value: unknown) => void)('config', {
              db: { dsn, [`k.${npm}`]: 1 },
            });
            span.addLink({
              context: span.spanContext(),
              attributes: { 'peer.dsn': dsn, [`x.${npm}`]: 1 },
            });
          },
        );
      },
    );
    await audit.forceFlush();
    const drained = await audit.forwarder!.drain({ timeoutMillis: 30_000 });
    expect(drained.ok).toBe(true);

    const storeBytes = filesUnder(join(root, 'store'))
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n');
    const sent = fake.requests.map((r) => r.body.toString('utf8'));
    for (const [where, bytes] of [
      ['store', storeBytes],
      ['OTLP payloads', sent.join('\n')],
    ] as const) {
      expect(
        secrets.filter((x) => bytes.includes(x)),
        `secrets found in ${where}`,
      ).toEqual([]);
    }

    // The tool span as the OTLP endpoint received it: flagged, values and hash untouched.
    type KV = {
      key: string;
      value: { stringValue?: string; arrayValue?: { values: { stringValue?: string }[] } };
    };
    const spans = sent.flatMap((body) =>
      (
        JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: { attributes: KV[] }[] }[] }[] }
      ).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
    );
    const attrsOf = (span: { attributes: KV[] }) =>
      new Map(span.attributes.map((kv) => [kv.key, kv.value]));
    const tool = spans
      .map(attrsOf)
      .filter((a) => a.get('tool.name')?.stringValue === 'render')
      .at(-1)!;
    expect(tool).toBeDefined();
    const violations = tool.get('audit.violation')?.arrayValue?.values.map((v) => v.stringValue);
    expect(violations).toEqual(expect.arrayContaining(['control_characters', 'bidi_override']));
    expect(tool.get('tool.reason')?.stringValue).toBe(reason);
    expect(tool.get('input.hash')?.stringValue).toBe((hashValue(input) as { hash: string }).hash);
    expect(tool.get('gen_ai.tool.call.arguments')?.stringValue).toContain('\u202eoffice');
  });
});
