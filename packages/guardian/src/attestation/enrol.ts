/**
 * Enrolment: the guardian's side of the attestation exchange (RFC 9334 background-check model,
 * the guardian is the Attester). It asks for a nonce with a request signed by its identity key
 * (proof of possession, protocol/challenge-proof.ts), signs an EAT (RFC 9711) over its
 * measurements with the same key, and receives a short-lived operational certificate.
 *
 * The HTTPS client trusts only the site root CA: a server that cannot show a certificate chaining
 * to it never sees the evidence. Every byte coming back is size-limited and validated, and the
 * certificate is checked to be for our own key and to chain to that root before it is used.
 */
import { X509Certificate, randomBytes as nodeRandomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import {
  ATTESTATION_CHALLENGE_PATH, ATTESTATION_EVIDENCE_PATH, CHALLENGE_REQUEST_ID_BYTES, EAT_PROFILE, ShellguardError,
  encodeChallengeRequest, encodeEvidence, errorMessage, ueidForKey, type EnrolmentResponse, type EvidenceClaims, type Measurement,
} from '@shellguard/protocol';
import type { KeyStore } from '../identity/key-store.ts';

export type EnrolmentErrorCode =
  /** The server could not be reached or answered 5xx/429: try again later. */
  | 'enrolment_unavailable'
  /** The server answered something we cannot use (bad JSON, a certificate not for us...). */
  | 'enrolment_response_invalid'
  /** The server turned the request down for a reason other than the appraisal (4xx other than 403). */
  | 'enrolment_request_failed';

export class EnrolmentError extends ShellguardError<EnrolmentErrorCode> {
  /** Whether the same request may succeed later without anything changing on our side. */
  get retryable(): boolean {
    return this.code === 'enrolment_unavailable';
  }
}

/**
 * The verifier refused the appraisal (HTTP 403). `refusal` is the server's stable code, normally
 * one of protocol's AttestationRefusals (e.g. measurements_mismatch, device_unclaimed).
 */
export class EnrolmentRefused extends ShellguardError<'enrolment_refused'> {
  readonly refusal: string;
  readonly serverMessage: string;

  constructor(refusal: string, serverMessage: string) {
    super('enrolment_refused', `the server refused attestation: ${refusal}: ${serverMessage}`, { refusal });
    this.refusal = refusal;
    this.serverMessage = serverMessage;
  }
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

/** POSTs a JSON body and returns the parsed JSON answer. Injectable for tests. */
export type JsonPost = (url: URL, body: unknown) => Promise<JsonResponse>;

export interface EnrolOptions {
  /** The server's HTTP API base, e.g. https://server.site:8443 */
  apiUrl: string;
  /** The site root CA (PEM; several concatenated during a root rotation): the only trust anchor. */
  rootCaPem: string;
  keyStore: KeyStore;
  measurements: Measurement[];
  swname: string;
  swversion: string;
  bootcount: number;
  now: () => number;
  /** Source of the challenge request id (default node:crypto). */
  randomBytes?: (n: number) => Buffer;
  /** Default: HTTPS trusting only rootCaPem. */
  request?: JsonPost;
}

export interface Enrolment extends EnrolmentResponse {
  /** epoch ms, from the certificate itself */
  notBefore: number;
  /** lowercase hex */
  serial: string;
}

/** Responses larger than this are cut off: a certificate chain and an error fit easily. */
export const MAX_ENROLMENT_RESPONSE_BYTES = 64 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;

/** The default JsonPost: HTTPS (TLS 1.2+) trusting only `caPem`, bounded in size and time. */
export function httpsJsonPost(caPem: string, timeoutMs = REQUEST_TIMEOUT_MS): JsonPost {
  return (url, body) => new Promise<JsonResponse>((resolve, reject) => {
    if (url.protocol !== 'https:') {
      reject(new EnrolmentError('enrolment_request_failed', `enrolment needs an https:// URL, not ${url.protocol}`, { url: url.origin }));
      return;
    }
    const payload = Buffer.from(JSON.stringify(body));
    const unavailable = (why: string) => new EnrolmentError('enrolment_unavailable', `cannot reach ${url.origin}: ${why}`, { url: url.origin });
    const req = httpsRequest(url, {
      method: 'POST',
      ca: caPem,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      agent: false,
      timeout: timeoutMs,
      headers: { 'content-type': 'application/json', 'content-length': payload.length, accept: 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ENROLMENT_RESPONSE_BYTES) {
          res.destroy();
          reject(new EnrolmentError('enrolment_response_invalid', `response from ${url.origin} exceeds ${MAX_ENROLMENT_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => reject(unavailable(errorMessage(err))));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text.length === 0 ? undefined : JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(unavailable(errorMessage(err))));
    req.end(payload);
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turns a non-2xx answer into the matching error. */
function failure(step: string, res: JsonResponse): Error {
  const err = isObject(res.body) && isObject(res.body.error) ? res.body.error : {};
  const code = typeof err.code === 'string' ? err.code.slice(0, 100) : 'unknown';
  const message = typeof err.message === 'string' ? err.message.slice(0, 500) : '';
  if (res.status === 403) return new EnrolmentRefused(code, message);
  if (res.status === 429 || res.status >= 500 || res.status === 0) {
    return new EnrolmentError('enrolment_unavailable', `${step}: server answered ${res.status} ${code} ${message}`.trim(), { status: res.status, serverCode: code });
  }
  return new EnrolmentError('enrolment_request_failed', `${step}: server answered ${res.status} ${code}: ${message}`, { status: res.status, serverCode: code });
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, in order. */
export function splitPemCertificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERTIFICATE) ?? []).map((block) => new X509Certificate(block));
}

function invalid(message: string): EnrolmentError {
  return new EnrolmentError('enrolment_response_invalid', message);
}

/**
 * Checks an issued chain: leaf for our key and device id, each certificate signed by the next,
 * the last one signed by a root we trust, and the leaf currently valid.
 */
export function verifyIssuedChain(chainPem: string, rootCaPem: string, keyStore: KeyStore, now: number): { leaf: X509Certificate } {
  let chain: X509Certificate[];
  let roots: X509Certificate[];
  try {
    chain = splitPemCertificates(chainPem);
    roots = splitPemCertificates(rootCaPem);
  } catch (err) {
    throw invalid(`the issued certificate cannot be parsed: ${errorMessage(err)}`);
  }
  const leaf = chain[0];
  if (!leaf) throw invalid('the response holds no certificate');
  if (!leaf.publicKey.equals(keyStore.publicKey())) throw invalid('the issued certificate is not for this guardian\'s identity key');
  if (!leaf.subject.split('\n').includes(`CN=${keyStore.deviceId}`)) throw invalid('the issued certificate does not name this device');
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      throw invalid('the issued certificate chain is broken');
    }
  }
  const top = chain[chain.length - 1]!;
  const anchored = roots.some((root) => top.fingerprint256 === root.fingerprint256 || (top.checkIssued(root) && top.verify(root.publicKey)));
  if (!anchored) throw invalid('the issued certificate does not chain to the site root CA');
  if (Date.parse(leaf.validFrom) > now + 5 * 60_000 || Date.parse(leaf.validTo) <= now) {
    throw invalid(`the issued certificate is not valid now (${leaf.validFrom} .. ${leaf.validTo})`);
  }
  return { leaf };
}

/**
 * Attests and enrols: challenge, evidence, operational certificate.
 * @throws EnrolmentRefused when the verifier refuses (403), EnrolmentError otherwise.
 */
export async function enrol(options: EnrolOptions): Promise<Enrolment> {
  const { keyStore, now } = options;
  const post = options.request ?? httpsJsonPost(options.rootCaPem);
  const base = new URL(options.apiUrl);

  // Proof of possession: only the holder of the identity key can ask for this device's nonces.
  const challengeRequest = encodeChallengeRequest({
    publicKey: keyStore.publicKey(),
    issuedAt: Math.floor(now()),
    requestId: (options.randomBytes ?? nodeRandomBytes)(CHALLENGE_REQUEST_ID_BYTES).toString('base64url'),
  }, (data) => keyStore.sign(data));
  const challenge = await post(new URL(ATTESTATION_CHALLENGE_PATH, base), challengeRequest);
  if (challenge.status !== 200) throw failure('challenge', challenge);
  const c = challenge.body;
  if (!isObject(c) || typeof c.nonce !== 'string' || c.nonce.length === 0 || c.nonce.length > 512) {
    throw invalid('the challenge response has no usable nonce');
  }

  const claims: EvidenceClaims = {
    eat_profile: EAT_PROFILE,
    eat_nonce: c.nonce,
    ueid: ueidForKey(keyStore.publicKey()),
    swname: options.swname,
    swversion: options.swversion,
    bootcount: options.bootcount,
    iat: Math.floor(now() / 1000),
    measurements: options.measurements,
  };
  const evidence = encodeEvidence(claims, keyStore.publicKey(), (data) => keyStore.sign(data));

  const answer = await post(new URL(ATTESTATION_EVIDENCE_PATH, base), { evidence });
  if (answer.status !== 200 && answer.status !== 201) throw failure('evidence', answer);
  const r = answer.body;
  if (!isObject(r) || typeof r.certificatePem !== 'string' || !Array.isArray(r.caPems)
    || !r.caPems.every((p) => typeof p === 'string') || typeof r.notAfter !== 'number' || !Number.isFinite(r.notAfter)) {
    throw invalid('the enrolment response lacks certificatePem, caPems or notAfter');
  }
  const { leaf } = verifyIssuedChain(r.certificatePem, options.rootCaPem, keyStore, now());
  return {
    certificatePem: r.certificatePem,
    caPems: r.caPems as string[],
    // The certificate is authoritative for its own lifetime.
    notAfter: Date.parse(leaf.validTo),
    notBefore: Date.parse(leaf.validFrom),
    serial: leaf.serialNumber.toLowerCase(),
  };
}
