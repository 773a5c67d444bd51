/**
 * `shellguard/v1/device/<id>/down/andon`: what the server tells a panel controller to show on a
 * panel's signal tower, and whether a door opening there is covered by released work. JSON,
 * small, versioned; the decoder validates every field (these bytes come from the network).
 *
 * `covered` is what the controller falls back on when the server is unreachable: a door opening
 * on a panel that no released work order covers sounds the klaxon locally at once (ARCHITECTURE
 * §4 — "bowling with bumpers" keeps working without the server).
 */
import { ProtocolError } from './errors.ts';
import { isAndonState, type AndonState } from './pns.ts';
import { isValidId } from './topics.ts';

export interface AndonInstruction {
  v: 1;
  /** The panel's asset id. */
  panel: string;
  state: AndonState;
  /** A released (or in-progress) work order covers opening this panel's door now. */
  covered: boolean;
  /** Monotonic per server start: a controller ignores an instruction older than the last it applied. */
  seq: number;
  /** Server time of the decision (epoch ms). */
  at: number;
  workOrderId?: number;
  /** 1-based step being worked and the number of steps, for a display beside the tower. */
  step?: { index: number; count: number; title: string };
  /** Why (deviation or intrusion kind), for the controller's log. */
  reason?: string;
  /** Clears the controller's own latched klaxon (a person silenced it with a reason, or work was released). */
  clearLocal?: boolean;
}

const MAX_ANDON_BYTES = 4096;

export function encodeAndonInstruction(i: Omit<AndonInstruction, 'v'>): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...i }));
}

function fail(message: string): never {
  throw new ProtocolError('andon_invalid', message);
}

export function decodeAndonInstruction(bytes: Uint8Array): AndonInstruction {
  if (bytes.length > MAX_ANDON_BYTES) fail(`andon instruction of ${bytes.length} bytes exceeds ${MAX_ANDON_BYTES}`);
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    return fail('andon instruction is not JSON');
  }
  if (typeof d !== 'object' || d === null || Array.isArray(d)) fail('andon instruction must be an object');
  if (d.v !== 1) fail(`andon instruction version ${JSON.stringify(d.v)} is not 1`);
  if (typeof d.panel !== 'string' || !isValidId(d.panel)) fail('andon instruction: panel must be an asset id');
  if (!isAndonState(d.state)) fail(`andon instruction: unknown state ${JSON.stringify(d.state)}`);
  if (typeof d.covered !== 'boolean') fail('andon instruction: covered must be true or false');
  if (typeof d.seq !== 'number' || !Number.isSafeInteger(d.seq) || d.seq < 0) fail('andon instruction: seq must be a whole number');
  if (typeof d.at !== 'number' || !Number.isFinite(d.at)) fail('andon instruction: at must be epoch ms');
  const out: AndonInstruction = { v: 1, panel: d.panel, state: d.state, covered: d.covered, seq: d.seq, at: d.at };
  if (d.workOrderId !== undefined) {
    if (typeof d.workOrderId !== 'number' || !Number.isSafeInteger(d.workOrderId) || d.workOrderId < 1) fail('andon instruction: workOrderId must be a positive whole number');
    out.workOrderId = d.workOrderId;
  }
  if (d.step !== undefined) {
    const s = d.step as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || !Number.isSafeInteger(s.index) || !Number.isSafeInteger(s.count)
      || typeof s.title !== 'string' || s.title.length > 200) fail('andon instruction: step must be {index, count, title}');
    out.step = { index: s.index as number, count: s.count as number, title: s.title as string };
  }
  if (d.reason !== undefined) {
    if (typeof d.reason !== 'string' || d.reason.length > 200) fail('andon instruction: reason must be a short string');
    out.reason = d.reason;
  }
  if (d.clearLocal !== undefined) {
    if (typeof d.clearLocal !== 'boolean') fail('andon instruction: clearLocal must be true or false');
    out.clearLocal = d.clearLocal;
  }
  return out;
}
