/**
 * /Schemas is what clients (identity providers, the console, scripts) read to learn our attributes. The schema
 * definitions are built by one attr() with per-schema defaults (src/domain/scim-schema.ts); this pins the served
 * document byte for byte — attributes, characteristics and their order — to the one captured before the builders
 * were merged (fixtures/schemas.json). A deliberate change to a schema updates the fixture in the same commit:
 * write the new body with `SCHEMAS_FIXTURE_WRITE=1` and review its diff.
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const FIXTURE = new URL('./fixtures/schemas.json', import.meta.url);

describe(`Discovery /Schemas output (${testDatabaseKind})`, () => {
  let t: TestApp;
  before(async function () {
    this.timeout(180_000);
    t = await createTestApp();
  });
  after(async () => {
    await t?.close();
  });

  it('when /Schemas is read, then its body is byte-identical to the captured document', async () => {
    const res = await t.request.get('/scim/v2/Schemas').set('Host', 'schemas.test').set('Authorization', `Bearer ${t.operatorToken}`);
    expect(res.status, res.text).to.equal(200);
    const body = `${JSON.stringify(JSON.parse(res.text), null, 1)}\n`;
    expect(res.text, 'the wire body is the pretty fixture without its white space').to.equal(JSON.stringify(JSON.parse(body)));
    if (process.env.SCHEMAS_FIXTURE_WRITE === '1') await writeFile(FIXTURE, body);
    const fixture = await readFile(FIXTURE, 'utf8');
    expect(body).to.equal(fixture);
  });
});
