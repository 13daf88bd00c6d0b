import { type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { CheckpointBody, SignedCheckpoint } from './types.js';

/** The exact bytes an Ed25519 checkpoint signature covers. */
export function checkpointMessage(body: CheckpointBody): Buffer {
  return Buffer.from(
    canonicalJson({
      head: body.head,
      keyId: body.keyId,
      origin: body.origin,
      size: body.size,
      time: body.time,
    }),
    'utf8',
  );
}

export function signCheckpoint(body: CheckpointBody, privateKey: KeyObject): SignedCheckpoint {
  const sig = sign(null, checkpointMessage(body), privateKey).toString('base64');
  return {
    origin: body.origin,
    size: body.size,
    head: body.head,
    time: body.time,
    keyId: body.keyId,
    sig,
  };
}

export function verifyCheckpointSignature(
  checkpoint: SignedCheckpoint,
  publicKey: KeyObject,
): boolean {
  if (typeof checkpoint.sig !== 'string' || checkpoint.sig.length === 0) return false;
  const sig = Buffer.from(checkpoint.sig, 'base64');
  if (sig.length !== 64) return false;
  try {
    return verify(null, checkpointMessage(checkpoint), publicKey, sig);
  } catch {
    return false;
  }
}

/** Structural check of a checkpoint read from disk; returns a reason when malformed. */
export function checkpointShapeProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not an object';
  const c = value as Record<string, unknown>;
  if (typeof c.origin !== 'string') return 'origin missing';
  if (typeof c.size !== 'number' || !Number.isSafeInteger(c.size) || c.size < 1)
    return 'size invalid';
  if (typeof c.head !== 'string' || !/^[0-9a-f]{64}$/.test(c.head)) return 'head invalid';
  if (typeof c.time !== 'string') return 'time missing';
  if (typeof c.keyId !== 'string') return 'keyId missing';
  if (typeof c.sig !== 'string') return 'sig missing';
  return undefined;
}
