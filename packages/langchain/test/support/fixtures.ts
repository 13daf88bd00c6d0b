import { hashValue } from '@agent-audit/instrumentation';
import { tool } from '@langchain/core/tools';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { z } from 'zod';

export const RUN = {
  agentId: 'support-agent',
  agentName: 'Support',
  triggerPrincipal: 'user:456',
  triggerType: 'human',
  credentialRef: 'cred:k1:run',
} as const;

/** Tools whose bodies count their runs: a refused call must leave its counter at 0. */
export function makeTools() {
  const calls = { weather: 0, time: 0, deleteAccount: 0, sendEmail: [] as unknown[] };
  const weather = tool(
    async ({ city }) => {
      calls.weather += 1;
      return `Sunny in ${city}`;
    },
    {
      name: 'get_weather',
      description: 'Weather for a city',
      schema: z.object({ city: z.string() }),
    },
  );
  const time = tool(
    async ({ city }) => {
      calls.time += 1;
      return `12:00 in ${city}`;
    },
    { name: 'get_time', description: 'Local time', schema: z.object({ city: z.string() }) },
  );
  const deleteAccount = tool(
    async ({ userId }) => {
      calls.deleteAccount += 1;
      return `deleted ${userId}`;
    },
    {
      name: 'delete_account',
      description: 'Deletes an account',
      schema: z.object({ userId: z.string() }),
    },
  );
  const sendEmail = tool(
    async (args) => {
      calls.sendEmail.push(args);
      return `sent to ${args.to}`;
    },
    {
      name: 'send_email',
      description: 'Sends an email',
      schema: z.object({ to: z.string(), body: z.string() }),
    },
  );
  return { calls, weather, time, deleteAccount, sendEmail };
}

export const hashOf = (v: unknown): string => {
  const h = hashValue(v);
  if (!h.ok) throw new Error('unhashable');
  return h.hash;
};

export const attr = (s: ReadableSpan, name: string): unknown => s.attributes[name];

export const named = (spans: ReadableSpan[], name: string): ReadableSpan[] =>
  spans.filter((s) => s.name === name);

export const parentId = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
