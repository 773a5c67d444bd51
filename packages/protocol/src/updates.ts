/**
 * What crosses between the server's update service and a guardian's updater (issue 11).
 *
 * Two authorities, as in Uptane:
 *  - the image repository (TUF, one per product and stream) says what software is *genuine*:
 *    its targets are signed by offline keys;
 *  - the director says what *this device* should run: a per-device instruction, signed by the
 *    server's online director key, naming targets of the image repository by name, length and hash.
 * A device acts on an instruction only when every image it names is a genuine target whose
 * length and hash match, and whose version is not older than what it runs.
 *
 * Topics: instructions go down on `shellguard/v1/device/<id>/down/update`, progress goes up on
 * `shellguard/v1/device/<id>/up/update`.
 */
import { X509Certificate, sign, verify, type KeyObject } from 'node:crypto';
import { ProtocolError } from './errors.ts';

/** Serviced separately: the runtime and native layer, and the guardian's code with its profiles. */
export const UPDATE_STREAMS = ['platform', 'application'] as const;
export type UpdateStream = (typeof UPDATE_STREAMS)[number];

/** A release's own description, carried in its TUF target's `custom` field and in the bundle. */
export interface BundleManifest {
  product: string;
  stream: UpdateStream;
  version: string;
  /** Attestation reference values this release installs (component -> sha256 hex). */
  components: { component: string; digest: string }[];
  /** Node.js platform and architecture its native modules are built for, e.g. linux-x64; `any` for pure JavaScript. */
  platform: string;
  /** `process.versions.modules` (Node ABI) its native modules need; `any` for pure JavaScript. */
  nodeAbi: string;
}

/** Reference values a manifest may carry (per-device components may list many digests each). */
export const MAX_MANIFEST_COMPONENTS = 1024;
const MANIFEST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const COMPONENT_NAME = /^[a-z][a-z0-9._:-]{0,199}$/;
const MANIFEST_PLATFORM = /^(?:any|[a-z0-9]+-[a-z0-9_]+)$/;
const MANIFEST_ABI = /^(?:any|\d{1,4})$/;

/**
 * Checks a release's BundleManifest, wherever it comes from (a bundle's manifest.json, a TUF
 * target's `custom`): the one definition the build, the server and the guardian share.
 * `where` names the source in the error message.
 */
export function parseBundleManifest(x: unknown, where = 'bundle manifest'): BundleManifest {
  const bad = (what: string): never => {
    throw new ProtocolError('manifest_invalid', `${where}: ${what}`, { where });
  };
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return bad('is missing or not an object');
  const o = x as Record<string, unknown>;
  if (typeof o.product !== 'string' || !MANIFEST_NAME.test(o.product)) bad('product is not a valid name');
  if (!(UPDATE_STREAMS as readonly unknown[]).includes(o.stream)) bad(`stream must be one of ${UPDATE_STREAMS.join(', ')}`);
  if (typeof o.version !== 'string' || !VERSION.test(o.version)) bad('version must be a semantic version');
  if (!Array.isArray(o.components) || o.components.length === 0 || o.components.length > MAX_MANIFEST_COMPONENTS) {
    bad(`components must be a list of 1 to ${MAX_MANIFEST_COMPONENTS}`);
  }
  const components = (o.components as unknown[]).map((c) => {
    const e = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
    if (typeof e.component !== 'string' || !COMPONENT_NAME.test(e.component)) bad('components[].component must be a component name such as guardian-bundle');
    if (typeof e.digest !== 'string' || !HEX64.test(e.digest)) bad('components[].digest must be 64 lowercase hex digits (sha256)');
    return { component: e.component as string, digest: e.digest as string };
  });
  if (typeof o.platform !== 'string' || !MANIFEST_PLATFORM.test(o.platform)) bad('platform must be <platform>-<arch> (e.g. linux-x64) or any');
  if (typeof o.nodeAbi !== 'string' || !MANIFEST_ABI.test(o.nodeAbi)) bad('nodeAbi must be process.versions.modules (e.g. "115") or any');
  return {
    product: o.product as string, stream: o.stream as UpdateStream, version: o.version as string, components,
    platform: o.platform as string, nodeAbi: o.nodeAbi as string,
  };
}

export interface InstructedImage {
  stream: UpdateStream;
  product: string;
  /** The TUF target path in the image repository of (product, stream). */
  targetName: string;
  version: string;
  length: number;
  sha256: string;
}

export interface DirectorInstruction {
  v: 1;
  deviceId: string;
  /** Strictly increasing per device: an older or replayed instruction is refused. */
  sequence: number;
  deploymentId: string;
  issuedAt: number;
  /** After this (epoch ms) the device ignores the instruction. */
  expiresAt: number;
  images: InstructedImage[];
  /** Seconds the new software has, after restart, to re-attest and stream telemetry. */
  healthWindowSeconds: number;
  /** Install now (inside a maintenance window or forced) or only download and wait. */
  installNow: boolean;
}

/**
 * The envelope on the wire. The director signs with a key certified by the site PKI, so a device
 * needs no key beyond the site root it already trusts: it verifies `chain` up to that root, then
 * the signature with the leaf's key.
 */
export interface SignedDirectorInstruction {
  signed: DirectorInstruction;
  /** base64 signature (ECDSA P-256 with SHA-256, DER; or Ed25519) over canonicalJson(signed). */
  signature: string;
  /** PEM: the director's certificate, then any issuing CA up to (not including) the site root. */
  chain: string;
}

/** The subjectAltName of the certificate the site PKI issues the director; devices require it. */
export const DIRECTOR_CERT_NAME = 'shellguard-director';

export const UPDATE_STATES = ['pending', 'deferred', 'downloading', 'downloaded', 'installed', 'healthy', 'failed', 'rolled_back', 'refused'] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

/** A guardian's progress on one deployment. */
export interface UpdateStatus {
  v: 1;
  deploymentId: string;
  /** The sequence of the instruction this answers; the statuses for one instruction are ordered by `at`. */
  sequence: number;
  state: UpdateState;
  /** The version this device now runs on the instructed stream. */
  running: string;
  /** The version it was told to run. */
  target: string;
  /** Why, for failed, rolled_back, refused and deferred. */
  reason?: string;
  at: number;
}

export const MAX_INSTRUCTION_BYTES = 16 * 1024;
export const MAX_UPDATE_STATUS_BYTES = 4 * 1024;

/** Deterministic JSON: object keys sorted, no whitespace (what is signed). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const HEX64 = /^[0-9a-f]{64}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;

function bad(message: string): never {
  throw new ProtocolError('update_invalid', message);
}

function parseImage(x: unknown): InstructedImage {
  if (typeof x !== 'object' || x === null) bad('image must be an object');
  const o = x as Record<string, unknown>;
  if (!(UPDATE_STREAMS as readonly unknown[]).includes(o.stream)) bad('image stream must be platform or application');
  if (typeof o.product !== 'string' || !NAME.test(o.product)) bad('image product is not a valid name');
  if (typeof o.targetName !== 'string' || !NAME.test(o.targetName) || o.targetName.includes('..')) bad('image targetName is not a valid target path');
  if (typeof o.version !== 'string' || !VERSION.test(o.version)) bad('image version must be a semantic version');
  if (typeof o.length !== 'number' || !Number.isSafeInteger(o.length) || o.length < 1) bad('image length must be a positive integer');
  if (typeof o.sha256 !== 'string' || !HEX64.test(o.sha256)) bad('image sha256 must be 64 lowercase hex digits');
  return { stream: o.stream as UpdateStream, product: o.product, targetName: o.targetName, version: o.version, length: o.length, sha256: o.sha256 };
}

export function parseDirectorInstruction(x: unknown): DirectorInstruction {
  if (typeof x !== 'object' || x === null) bad('instruction must be an object');
  const o = x as Record<string, unknown>;
  if (o.v !== 1) bad('instruction must have v: 1');
  if (typeof o.deviceId !== 'string' || !/^[0-9a-f]{64}$/.test(o.deviceId)) bad('instruction deviceId must be a device id');
  for (const k of ['sequence', 'issuedAt', 'expiresAt', 'healthWindowSeconds'] as const) {
    if (typeof o[k] !== 'number' || !Number.isSafeInteger(o[k]) || (o[k] as number) < 0) bad(`instruction ${k} must be a non-negative integer`);
  }
  if (typeof o.deploymentId !== 'string' || !NAME.test(o.deploymentId)) bad('instruction deploymentId is not a valid id');
  if (typeof o.installNow !== 'boolean') bad('instruction installNow must be a boolean');
  if (!Array.isArray(o.images) || o.images.length > 4) bad('instruction images must be a list of at most 4');
  return {
    v: 1, deviceId: o.deviceId, sequence: o.sequence as number, deploymentId: o.deploymentId, issuedAt: o.issuedAt as number,
    expiresAt: o.expiresAt as number, images: o.images.map(parseImage), healthWindowSeconds: o.healthWindowSeconds as number, installNow: o.installNow,
  };
}

/** Signs an instruction with the director's key; `chain` is its certificate chain (PEM). */
export function signDirectorInstruction(instruction: DirectorInstruction, key: KeyObject, chain: string): Buffer {
  const algorithm = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const signature = sign(algorithm, Buffer.from(canonicalJson(instruction)), key).toString('base64');
  const envelope: SignedDirectorInstruction = { signed: instruction, signature, chain };
  return Buffer.from(JSON.stringify(envelope));
}

/**
 * Decodes a signed instruction's envelope and checks its signature. `directorKey` receives the
 * envelope's certificates (leaf first) and returns the key to verify with once it has checked
 * them against the site root; it throws when they do not chain to it.
 */
export function verifyDirectorInstruction(bytes: Uint8Array, directorKey: (chain: X509Certificate[]) => KeyObject): DirectorInstruction {
  if (bytes.length > MAX_INSTRUCTION_BYTES) throw new ProtocolError('update_invalid', `instruction of ${bytes.length} bytes exceeds ${MAX_INSTRUCTION_BYTES}`);
  let env: Record<string, unknown>;
  try {
    env = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ProtocolError('update_invalid', 'instruction is not valid JSON');
  }
  if (typeof env !== 'object' || env === null || typeof env.signature !== 'string' || typeof env.chain !== 'string') {
    bad('instruction envelope needs signed, signature and chain');
  }
  const instruction = parseDirectorInstruction(env.signed);
  let chain: X509Certificate[];
  try {
    chain = (env.chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((pem) => new X509Certificate(pem));
  } catch {
    throw new ProtocolError('update_signature', 'instruction chain holds a certificate that cannot be parsed');
  }
  if (chain.length === 0 || chain.length > 4) throw new ProtocolError('update_signature', 'instruction chain must hold 1 to 4 certificates');
  const key = directorKey(chain);
  const algorithm = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const ok = verify(algorithm, Buffer.from(canonicalJson(env.signed)), key, Buffer.from(env.signature, 'base64'));
  if (!ok) throw new ProtocolError('update_signature', 'instruction signature does not verify with the director key');
  return instruction;
}

export function encodeUpdateStatus(status: Omit<UpdateStatus, 'v'>): Buffer {
  const body: UpdateStatus = { v: 1, ...status, ...(status.reason !== undefined ? { reason: status.reason.slice(0, 500) } : {}) };
  return Buffer.from(JSON.stringify(body));
}

export function decodeUpdateStatus(bytes: Uint8Array): UpdateStatus {
  if (bytes.length > MAX_UPDATE_STATUS_BYTES) throw new ProtocolError('update_invalid', `update status of ${bytes.length} bytes exceeds ${MAX_UPDATE_STATUS_BYTES}`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ProtocolError('update_invalid', 'update status is not valid JSON');
  }
  if (typeof o !== 'object' || o === null || o.v !== 1) bad('update status must be an object with v: 1');
  if (typeof o.deploymentId !== 'string' || !NAME.test(o.deploymentId)) bad('update status deploymentId is not a valid id');
  if (typeof o.sequence !== 'number' || !Number.isSafeInteger(o.sequence)) bad('update status sequence must be an integer');
  if (!(UPDATE_STATES as readonly unknown[]).includes(o.state)) bad(`update status state must be one of ${UPDATE_STATES.join(', ')}`);
  if (typeof o.running !== 'string' || o.running.length > 64 || typeof o.target !== 'string' || o.target.length > 64) bad('update status running and target must be versions');
  if (o.reason !== undefined && typeof o.reason !== 'string') bad('update status reason must be a string');
  if (typeof o.at !== 'number' || !Number.isFinite(o.at)) bad('update status at must be a number');
  return {
    v: 1, deploymentId: o.deploymentId, sequence: o.sequence, state: o.state as UpdateState, running: o.running, target: o.target,
    ...(typeof o.reason === 'string' ? { reason: o.reason.slice(0, 500) } : {}), at: o.at,
  };
}
