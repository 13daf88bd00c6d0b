import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
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
});
