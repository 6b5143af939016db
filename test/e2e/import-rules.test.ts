import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const depcruise = path.join(root, 'node_modules/.bin/depcruise');
const config = path.join(root, '.dependency-cruiser.cjs');

/** Runs the project's import rules over `files` laid out in a scratch tree; the violations it reports. */
async function violations(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-rules-'));
  try {
    await writeFile(path.join(dir, 'tsconfig.check.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
    const tops = [...new Set(Object.keys(files).map((f) => f.split('/')[0]!))];
    const result = await run(depcruise, [...tops, '--config', config, '--output-type', 'err'], { cwd: dir }).then(
      (r) => r.stdout,
      (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
    );
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('import rules (dependency-cruiser, run by npm run typecheck)', function () {
  this.timeout(120_000);

  it('when the project itself is checked, then no rule is broken', async () => {
    const { stdout } = await run(depcruise, ['src', 'connectors', 'migrations', '--config', config, '--output-type', 'err'], { cwd: root });
    expect(stdout).to.match(/no dependency violations found/);
  });

  it('when db/ imports the SCIM edge, then db-below-services names the import', async () => {
    const out = await violations({ 'src/db/users-repo.ts': "import { x } from '../scim/schemas.js';\nexport const y = x;\n", 'src/scim/schemas.ts': 'export const x = 1;\n' });
    expect(out).to.match(/db-below-services: src\/db\/users-repo\.ts → src\/scim\/schemas\.ts/);
  });

  it('when two modules import each other by type only, then no-circular reports the cycle', async () => {
    const out = await violations({
      'src/lib/a.ts': "import type { B } from './b.js';\nexport type A = { b?: B };\n",
      'src/lib/b.ts': "export type B = { a?: import('./a.js').A };\n",
    });
    expect(out).to.match(/no-circular/);
  });

  it('when a router calls a repository, then routers-call-services names it; a type-only import passes', async () => {
    const out = await violations({
      'src/scim/users-router.ts': "import { usersRepo } from '../db/users-repo.js';\nimport type { Row } from '../db/rows-repo.js';\nexport const r: Row = usersRepo;\n",
      'src/db/users-repo.ts': 'export const usersRepo = 1;\n',
      'src/db/rows-repo.ts': 'export type Row = number;\n',
    });
    expect(out).to.match(/routers-call-services: src\/scim\/users-router\.ts → src\/db\/users-repo\.ts/);
    expect(out).not.to.match(/rows-repo/);
  });

  it('when a connector imports src/, then connectors-stay-out-of-src names it', async () => {
    const out = await violations({
      'connectors/mivb/index.ts': "import { u } from '../../src/domain/user.js';\nimport { s } from '../sdk/index.js';\nexport const m = [u, s];\n",
      'connectors/sdk/index.ts': 'export const s = 1;\n',
      'src/domain/user.ts': 'export const u = 1;\n',
    });
    expect(out).to.match(/connectors-stay-out-of-src: connectors\/mivb\/index\.ts → src\/domain\/user\.ts/);
    expect(out).not.to.match(/sdk\/index/);
  });
});
