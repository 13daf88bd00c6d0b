/*
 * `resources/read` and `prompts/get`: what data the agent read is an audit question. Each is a
 * CLIENT span `{method} [{prompt name}]` with the resource URI or prompt name, `input.hash` of
 * the request parameters and `output.hash` of what came back. Raw content is never recorded
 * here. The SDK's AuditSpanProcessor stamps the run's attribution on it.
 */
import { type HashKey, hashValue } from '@agent-audit/instrumentation';
import {
  ATTR_INPUT_HASH,
  ATTR_INPUT_HASH_ERROR,
  ATTR_OUTPUT_HASH,
  ATTR_OUTPUT_HASH_ERROR,
} from '@agent-audit/instrumentation/attributes';
import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_PROMPT_NAME,
  ATTR_MCP_RESOURCE_URI,
  ATTR_RPC_RESPONSE_STATUS_CODE,
  MCP_METHOD_PROMPTS_GET,
} from './semconv.js';

const TRACER_NAME = '@agent-audit/mcp';

export async function recordRead<T>(
  method: string,
  params: Record<string, unknown>,
  attributes: Attributes,
  key: HashKey | undefined,
  send: (span: Span) => Promise<T>,
): Promise<T> {
  const attrs: Attributes = { ...attributes };
  let name = method;
  if (method === MCP_METHOD_PROMPTS_GET && typeof params.name === 'string') {
    attrs[ATTR_GEN_AI_PROMPT_NAME] = params.name;
    name = `${method} ${params.name}`;
  } else if (typeof params.uri === 'string') {
    attrs[ATTR_MCP_RESOURCE_URI] = params.uri;
  }
  const { _meta: _ignored, ...request } = params;
  putHash(attrs, ATTR_INPUT_HASH, ATTR_INPUT_HASH_ERROR, request, key);

  let span: Span;
  try {
    span = trace
      .getTracer(TRACER_NAME)
      .startSpan(name, { kind: SpanKind.CLIENT, attributes: attrs }, context.active());
  } catch {
    span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  }
  const ctx = trace.setSpan(context.active(), span);
  try {
    const result = await context.with(ctx, () => send(span));
    const out: Attributes = {};
    putHash(out, ATTR_OUTPUT_HASH, ATTR_OUTPUT_HASH_ERROR, result, key);
    span.setAttributes(out);
    return result;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'number') span.setAttribute(ATTR_RPC_RESPONSE_STATUS_CODE, String(code));
    span.setAttribute(
      ATTR_ERROR_TYPE,
      typeof code === 'number' ? String(code) : err instanceof Error ? err.name : '_OTHER',
    );
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: err instanceof Error ? err.message : String(err),
    });
    throw err;
  } finally {
    span.end();
  }
}

function putHash(
  attrs: Attributes,
  name: string,
  errorName: string,
  value: unknown,
  key: HashKey | undefined,
): void {
  try {
    const h = hashValue(value, key === undefined ? {} : { key });
    if (h.ok) attrs[name] = h.hash;
    else attrs[errorName] = h.error;
  } catch (err) {
    attrs[errorName] = `hash_failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}
