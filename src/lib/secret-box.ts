import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Secrets at rest (source passwords, client secrets, private keys): AES-256-GCM under a 256-bit key, stored as
 * `enc:v1:<key id>:<iv>:<tag>:<ciphertext>` (base64url parts; the key id is the first 8 hex digits of the key's
 * SHA-256, so a value names the key that sealed it). A previous key still opens values during a rotation.
 */
const PREFIX = 'enc:v1:';

export class SecretKeyError extends Error {}

export const keyIdOf = (key: Buffer): string => crypto.createHash('sha256').update(key).digest('hex').slice(0, 8);

export class SecretBox {
  private readonly keys: Map<string, Buffer>;
  private readonly currentId: string;

  constructor(private readonly current: Buffer, previous: Buffer[] = []) {
    if (current.length !== 32) throw new SecretKeyError('The secret key must be 32 bytes');
    this.currentId = keyIdOf(current);
    this.keys = new Map([...previous, current].map((key) => [keyIdOf(key), key]));
  }

  /** The id of the key this box seals under (public: every value it seals starts with it). */
  get keyId(): string {
    return this.currentId;
  }

  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }

  seal(plain: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.current, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.currentId}:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${data.toString('base64url')}`;
  }

  /** The plain text of a sealed value (a plain value is returned as it is); SecretKeyError when no key opens it. */
  open(value: string): string {
    if (!SecretBox.isSealed(value)) return value;
    const [keyId, iv, tag, data] = value.slice(PREFIX.length).split(':');
    const key = this.keys.get(keyId ?? '');
    if (!key || !iv || !tag || data === undefined) throw new SecretKeyError(`a secret sealed with key ${keyId ?? '?'} cannot be opened with the configured SWITCHBOARD_SECRET_KEY (${this.currentId})`);
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError(`a secret sealed with key ${keyId} does not decrypt: the key or the stored value is wrong`);
    }
  }

  /** A copy of a JSON value with every sealed string opened (connectors read the plain configuration). */
  openAll<T>(value: T): T {
    return mapStrings(value, (s) => this.open(s)) as T;
  }

  /** A copy with every sealed string sealed again under the current key (rotation). */
  resealAll<T>(value: T): T {
    return mapStrings(value, (s) => (SecretBox.isSealed(s) ? this.seal(this.open(s)) : s)) as T;
  }

  /** Whether every sealed string of `value` is sealed under the current key. */
  isCurrent(value: unknown): boolean {
    let current = true;
    mapStrings(value, (s) => {
      if (SecretBox.isSealed(s) && !s.startsWith(`${PREFIX}${this.currentId}:`)) current = false;
      return s;
    });
    return current;
  }
}

function mapStrings(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn)]));
  return value;
}

/** A key as configured: 32 bytes, as 64 hex digits or base64 (base64url too). */
export function parseSecretKey(raw: string, name: string): Buffer {
  const text = raw.trim();
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new SecretKeyError(`${name} must be 32 bytes, written as 64 hex digits or base64 (openssl rand -base64 32)`);
  return key;
}

export const newSecretKey = (): Buffer => crypto.randomBytes(32);

/** DATA_DIR/secret-key: the embedded default's key, generated on first start (mode 0600, like the bootstrap token). */
export function secretKeyFile(dataDir: string): string {
  return path.join(dataDir, 'secret-key');
}

export function readOrCreateKeyFile(dataDir: string): { key: Buffer; created: boolean } {
  const file = secretKeyFile(dataDir);
  if (fs.existsSync(file)) return { key: parseSecretKey(fs.readFileSync(file, 'utf8'), file), created: false };
  fs.mkdirSync(dataDir, { recursive: true });
  const key = newSecretKey();
  writeKeyFile(dataDir, key);
  return { key, created: true };
}

/** Written whole or not at all: a temporary file renamed over the old one. */
export function writeKeyFile(dataDir: string, key: Buffer): void {
  const file = secretKeyFile(dataDir);
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, key.toString('base64') + '\n', { mode: 0o600 });
  fs.chmodSync(temp, 0o600);
  fs.renameSync(temp, file);
}
