/**
 * Control-plane messages (JSON, small, versioned). Decoders validate every field: these bytes
 * come from the network and may be hostile.
 */
import { ProtocolError } from './errors.ts';

export interface BatchAck {
  v: 1;
  /** Batch sequence numbers durably stored (now or earlier: redeliveries are acknowledged again). */
  stored: number[];
  /** Batches the server will never store (malformed); the guardian sets them aside, never resends. */
  rejected: { seq: number; reason: string }[];
}

const MAX_ACK_ENTRIES = 100_000;
const MAX_CONTROL_BYTES = 1 << 20;

function isSeq(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function encodeBatchAck(ack: Omit<BatchAck, 'v'>): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, stored: ack.stored, rejected: ack.rejected }));
}

export function decodeBatchAck(bytes: Uint8Array): BatchAck {
  if (bytes.length > MAX_CONTROL_BYTES) {
    throw new ProtocolError('control_too_large', `control message of ${bytes.length} bytes exceeds ${MAX_CONTROL_BYTES}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ProtocolError('control_not_json', 'batch ack is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new ProtocolError('control_invalid', 'batch ack must be an object');
  const o = parsed as Record<string, unknown>;
  if (o.v !== 1) throw new ProtocolError('control_version', `unsupported batch ack version ${String(o.v)}`);
  const { stored, rejected } = o;
  if (!Array.isArray(stored) || stored.length > MAX_ACK_ENTRIES || !stored.every(isSeq)) {
    throw new ProtocolError('control_invalid', 'batch ack "stored" must be an array of sequence numbers');
  }
  if (!Array.isArray(rejected) || rejected.length > MAX_ACK_ENTRIES) {
    throw new ProtocolError('control_invalid', 'batch ack "rejected" must be an array');
  }
  const rej: BatchAck['rejected'] = [];
  for (const r of rejected as unknown[]) {
    if (typeof r !== 'object' || r === null) throw new ProtocolError('control_invalid', 'rejected entry must be an object');
    const e = r as Record<string, unknown>;
    if (!isSeq(e.seq) || typeof e.reason !== 'string') {
      throw new ProtocolError('control_invalid', 'rejected entry needs a numeric seq and a string reason');
    }
    rej.push({ seq: e.seq, reason: e.reason.slice(0, 500) });
  }
  return { v: 1, stored: stored as number[], rejected: rej };
}
