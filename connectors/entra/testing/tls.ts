/**
 * Throwaway certificates for tests, made by the `openssl` command (Debian's package, listed in .ci/run): a
 * self-signed server certificate for 127.0.0.1/localhost (its own CA: give it as `caCertPem`), and RSA client
 * certificates as an Entra app registration takes them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  certificatePem: string;
  privateKeyPem: string;
}

async function selfSigned(args: string[]): Promise<KeyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-cert-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await run('openssl', ['req', '-x509', '-nodes', '-days', '2', '-keyout', key, '-out', cert, ...args]);
    return { certificatePem: await readFile(cert, 'utf8'), privateKeyPem: await readFile(key, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A server certificate for 127.0.0.1 and localhost (P-256: quick to make). */
export function serverCertificate(): Promise<KeyPair> {
  return selfSigned(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
}

/** An RSA client certificate, as uploaded to an app registration (msal signs its assertion with RSA). */
export function clientCertificate(commonName = 'switchboard-sync'): Promise<KeyPair> {
  return selfSigned(['-newkey', 'rsa:2048', '-subj', `/CN=${commonName}`]);
}
