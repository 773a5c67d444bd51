/**
 * TUF key and signature conventions shared by the server (online roles) and the offline signing
 * tool (`shellguard release`). One profile, never negotiated: Ed25519 keys, `keytype` and `scheme`
 * both "ed25519", the public key as 64 hex digits (TUF §4.2, "ed25519" key format).
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { Signature } from '@tufjs/models';
import { canonicalJson } from '@shellguard/protocol';

/** A key as TUF metadata lists it under `keys` (without its id). */
export interface TufKeyJson {
  keytype: 'ed25519';
  scheme: 'ed25519';
  keyval: { public: string };
}

export interface TufPublicKey {
  keyid: string;
  key: TufKeyJson;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * TUF §4.2: "The KEYID of a key is the hexdigest of the SHA-256 hash of the canonical form of the
 * key." Only the three fields of our profile are hashed, each checked, so the canonical form here
 * and in any OLPC canonical-JSON implementation is the same string.
 */
export function tufKeyIdOf(key: TufKeyJson): string {
  if (key.keytype !== 'ed25519' || key.scheme !== 'ed25519' || !HEX64.test(key.keyval.public)) {
    throw new TypeError('only ed25519 keys with a 64-hex public value are part of the profile');
  }
  const canonical = canonicalJson({ keytype: key.keytype, keyval: { public: key.keyval.public }, scheme: key.scheme });
  return createHash('sha256').update(canonical).digest('hex');
}

/** The TUF form and key id of an Ed25519 public (or private) key. */
export function tufKeyOf(publicOrPrivate: KeyObject): TufPublicKey {
  const publicKey = publicOrPrivate.type === 'private' ? createPublicKey(publicOrPrivate) : publicOrPrivate;
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new TypeError(`an ed25519 key is needed, not ${publicKey.asymmetricKeyType ?? 'a secret key'}`);
  const jwk = publicKey.export({ format: 'jwk' });
  const key: TufKeyJson = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: Buffer.from(jwk.x!, 'base64url').toString('hex') } };
  return { keyid: tufKeyIdOf(key), key };
}

/** A signer for `Metadata.sign`: Ed25519 over the canonical bytes it is given, hex as TUF carries it. */
export function tufSigner(privateKey: KeyObject, keyid: string = tufKeyOf(privateKey).keyid): (data: Buffer) => Signature {
  return (data) => new Signature({ keyID: keyid, sig: sign(null, data, privateKey).toString('hex') });
}

/** TUF §4.2: expiry as ISO 8601 "YYYY-MM-DDTHH:MM:SSZ" (whole seconds, UTC). */
export function tufExpires(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
