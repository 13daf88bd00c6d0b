export type ParsedArguments = { ok: true; value: unknown } | { ok: false };

/** The model's tool arguments (a JSON string) parsed; `ok: false` when they are not JSON. */
export function parseArguments(raw: string): ParsedArguments {
  if (raw === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false };
  }
}
