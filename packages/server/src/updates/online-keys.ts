/**
 * The server's ONLINE TUF keys: the snapshot and timestamp roles must be re-signed whenever targets
 * change and before the timestamp expires, so their keys live with the server (TUF §6.1: online
 * roles), unlike root and targets, whose keys stay offline with the release engineers.
 *
 * Ed25519 keys, one file each under the data directory (`<keyid>.key`, PKCS#8 PEM, mode 0600,
 * written atomically), and `proposed.json` naming the pair a new root should list. Rotation makes
 * a new pair the proposed one; the old keys stay on disk (and keep signing) while a trusted root
 * still names them, so the hand-over is: rotate here, sign a new root offline naming the new pair.
 * Private keys are never logged, returned over the API or put into the database.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { fsyncDirectory } from '../audit/fsync-directory.ts';
import { ImageRepositoryError } from './image-repository-error.ts';
import { tufKeyOf, type TufPublicKey } from './tuf-keys.ts';

export interface ProposedOnlineKeys {
  snapshot: TufPublicKey;
  timestamp: TufPublicKey;
}

/** What the image repository needs from wherever the online keys are kept (a file directory today; an HSM later). */
export interface OnlineSigningKeys {
  /** The keys a new root should name for the snapshot and timestamp roles. */
  proposed(): ProposedOnlineKeys;
  /** The private key with this TUF key id, when the server holds it. */
  privateKey(keyid: string): KeyObject | undefined;
}

const PROPOSED_FILE = 'proposed.json';
const KEYID = /^[0-9a-f]{64}$/;

function writeFileAtomic(dir: string, name: string, contents: string): void {
  const tmp = path.join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path.join(dir, name));
  fsyncDirectory(dir);
}

export class OnlineKeyDirectory implements OnlineSigningKeys {
  private readonly keys = new Map<string, KeyObject>();
  private current: ProposedOnlineKeys;

  private constructor(private readonly dir: string) {
    this.current = this.readProposed() ?? this.rotate();
  }

  /** Opens (creating on first use, with a first pair of keys) the key directory. */
  static open(dir: string): OnlineKeyDirectory {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (process.platform !== 'win32') chmodSync(dir, 0o700);
    return new OnlineKeyDirectory(dir);
  }

  proposed(): ProposedOnlineKeys {
    return this.current;
  }

  /** Generates a new snapshot and timestamp key pair and proposes it for the next root. */
  rotate(): ProposedOnlineKeys {
    const fresh = { snapshot: this.generate(), timestamp: this.generate() };
    writeFileAtomic(this.dir, PROPOSED_FILE, `${JSON.stringify({ snapshot: fresh.snapshot.keyid, timestamp: fresh.timestamp.keyid })}\n`);
    this.current = fresh;
    return fresh;
  }

  privateKey(keyid: string): KeyObject | undefined {
    if (!KEYID.test(keyid)) return undefined;
    const cached = this.keys.get(keyid);
    if (cached) return cached;
    const file = path.join(this.dir, `${keyid}.key`);
    if (!existsSync(file)) return undefined;
    if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) {
      throw new ImageRepositoryError('online_key_permissions',
        `the online key file ${file} is readable by other users: chmod 600 it (and consider rotating the online keys)`, { file });
    }
    const key = createPrivateKey(readFileSync(file, 'utf8'));
    if (tufKeyOf(key).keyid !== keyid) {
      throw new ImageRepositoryError('online_key_unavailable', `the online key file ${file} holds another key than its name says`, { file });
    }
    this.keys.set(keyid, key);
    return key;
  }

  private generate(): TufPublicKey {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pub = tufKeyOf(privateKey);
    writeFileAtomic(this.dir, `${pub.keyid}.key`, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    this.keys.set(pub.keyid, privateKey);
    return pub;
  }

  private readProposed(): ProposedOnlineKeys | undefined {
    const file = path.join(this.dir, PROPOSED_FILE);
    if (!existsSync(file)) return undefined;
    const ids = JSON.parse(readFileSync(file, 'utf8')) as { snapshot?: unknown; timestamp?: unknown };
    const load = (id: unknown): TufPublicKey => {
      const key = typeof id === 'string' ? this.privateKey(id) : undefined;
      if (!key) throw new ImageRepositoryError('online_key_unavailable', `${file} names a key that is not in ${this.dir}: restore the directory from backup`, { file });
      return tufKeyOf(key);
    };
    return { snapshot: load(ids.snapshot), timestamp: load(ids.timestamp) };
  }
}
