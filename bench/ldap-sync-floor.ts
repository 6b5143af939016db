import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { requestedAttributes } from '../connectors/ldap/config.js';
import { ldapConnector } from '../connectors/ldap/index.js';
import { peopleLdif, startSlapd } from '../test/support/slapd.js';

// LDAP read floor: N inetOrgPerson entries are loaded offline (slapadd -q) into a fresh slapd, then read
// (a) by the LDAP connector (full read, page size 500, every record mapped to SCIM), and
// (b) by a plain paged `ldapsearch -E pr=500/noprompt` of the same tree and attributes, the floor.
// The sync-engine part (applying the records to the database) is measured separately.

export const PAGE_SIZE = 500;
/** What the connector asks for with its default openldap attribute map. */
export const ATTRIBUTES = requestedAttributes(ldapConnector.parseConfig({ url: 'ldap://127.0.0.1', bindDn: 'cn=x', bindPassword: 'x', baseDn: 'dc=x' }));

export interface LdapReadFigures {
  entries: number;
  seconds: number;
  entriesPerSecond: number;
}

export interface LdapFloorResult {
  entries: number;
  loadSeconds: number;
  connector: LdapReadFigures & { peakRssDeltaBytes: number; warnings: number };
  ldapsearch: LdapReadFigures;
  /** connector entries/s ÷ ldapsearch entries/s. */
  ratioToFloor: number;
}

export async function benchLdapFloor(entries: number): Promise<LdapFloorResult> {
  const loadStart = performance.now();
  const slapd = await startSlapd({ initialLdif: peopleLdif(entries) });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  try {
    const config = ldapConnector.parseConfig({
      url: slapd.url,
      bindDn: slapd.bindDn,
      bindPassword: slapd.bindPassword,
      baseDn: slapd.baseDn,
      pageSize: PAGE_SIZE,
      defaultCountry: 'BE',
    });

    (globalThis as { gc?: () => void }).gc?.();
    const rssBefore = process.memoryUsage.rss();
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 5);
    let records = 0;
    let warnings = 0;
    const start = performance.now();
    try {
      for await (const item of ldapConnector.read(config, { mode: 'full' })) {
        if (item.type !== 'record') continue;
        records++;
        warnings += item.warnings?.length ?? 0;
        if (records % PAGE_SIZE === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - start) / 1000;
    peakRss = Math.max(peakRss, process.memoryUsage.rss());

    const floor = await ldapsearchFloor(slapd.url, slapd.bindDn, slapd.bindPassword, slapd.baseDn);
    const connector = { entries: records, seconds, entriesPerSecond: records / seconds, peakRssDeltaBytes: peakRss - rssBefore, warnings };
    return { entries, loadSeconds, connector, ldapsearch: floor, ratioToFloor: connector.entriesPerSecond / floor.entriesPerSecond };
  } finally {
    await slapd.stop();
  }
}

/** Counts `dn:` lines of a paged ldapsearch as they stream by (nothing is kept). */
export async function ldapsearchFloor(url: string, bindDn: string, password: string, baseDn: string): Promise<LdapReadFigures> {
  const start = performance.now();
  const entries = await new Promise<number>((resolve, reject) => {
    const child = spawn('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', url, '-D', bindDn, '-w', password, '-b', baseDn, '-E', `pr=${PAGE_SIZE}/noprompt`, '(objectClass=inetOrgPerson)', ...ATTRIBUTES], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let count = 0;
    let tail = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('dn: ') || line.startsWith('dn:: ')) count++;
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(count) : reject(new Error(`ldapsearch exited ${code}: ${stderr.trim()}`))));
  });
  const seconds = (performance.now() - start) / 1000;
  return { entries, seconds, entriesPerSecond: entries / seconds };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const entries = Number(process.argv[2] ?? 10000);
  benchLdapFloor(entries).then(
    (result) => console.log(JSON.stringify(result, null, 2)),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
