/**
 * The contract suite every connector passes: call
 * `describeConnectorContract(name, setup)` from the connector's test file; `setup` starts the
 * source (a real one where possible) once for the suite.
 */
import { expect } from 'chai';
import { ConnectorConfigError, ConnectorError, type Connector, type JsonValue, type ReadContext, type ReadRequest, type SourceItem, type SourceRecord, type SourceState } from '../sdk/index.js';

export interface ContractFixture<Config> {
  connector: Connector<Config>;
  /** A raw configuration (as an admin would save it) for the running fixture source. */
  rawConfig: unknown;
  /** A raw configuration that passes `parseConfig` but that `check` must refuse (e.g. a wrong password). */
  rawConfigRejectedByCheck: unknown;
  /** Raw configurations `parseConfig` must refuse, each with what the message must mention. */
  invalidRawConfigs: Array<{ raw: unknown; message: RegExp }>;
  /** Called once after the suite. */
  teardown?: () => Promise<void>;
}

/** Reads everything a connector yields (tests only: a real read is streamed). */
export async function collect(items: AsyncIterable<SourceItem>): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export function recordsOf(items: SourceItem[]): SourceRecord[] {
  return items.filter((item): item is SourceRecord => item.type === 'record');
}

export function finalState(items: SourceItem[]): SourceState {
  const last = items.at(-1);
  if (!last || last.type !== 'state') throw new Error(`the read did not end with a state checkpoint (last item: ${JSON.stringify(last?.type)})`);
  return last;
}

/** The state as the engine would give it back after storing it (jsonb round trip). */
export function stored(state: JsonValue): JsonValue {
  return JSON.parse(JSON.stringify(state)) as JsonValue;
}

export function describeConnectorContract<Config>(name: string, setup: () => Promise<ContractFixture<Config>>): void {
  describe(`connector contract: ${name}`, function () {
    let fixture: ContractFixture<Config>;
    let config: Config;
    const read = (request: ReadRequest, ctx?: ReadContext): Promise<SourceItem[]> => collect(fixture.connector.read(config, request, ctx));

    before(async function () {
      fixture = await setup();
      config = fixture.connector.parseConfig(fixture.rawConfig);
    });

    after(async function () {
      await fixture?.teardown?.();
    });

    it('when the connector is described, then it has a kind and an object config schema whose secrets are writeOnly', () => {
      expect(fixture.connector.kind).to.match(/^[a-z][a-z0-9-]*$/);
      expect(fixture.connector.configSchema.type).to.equal('object');
      const secretish = Object.entries(fixture.connector.configSchema.properties).filter(([key]) => /password|secret|token|apikey/i.test(key));
      for (const [key, property] of secretish) expect(property.writeOnly, `${key} must be writeOnly`).to.equal(true);
    });

    it('when read in full, then it yields well-formed records with non-empty unique anchors and ends with a complete, JSON-safe checkpoint', async () => {
      const items = await read({ mode: 'full' });
      const records = recordsOf(items);
      expect(records, 'the fixture source must hold at least one record').to.not.be.empty;
      const anchors = records.map((r) => r.anchor);
      for (const anchor of anchors) expect(anchor).to.be.a('string').and.not.equal('');
      expect(new Set(anchors).size, 'anchors must be unique').to.equal(anchors.length);
      for (const record of records) {
        expect(record.attributes).to.be.an('object');
        expect(record.raw).to.be.an('object');
        expect(record.hardKeys).to.be.an('object');
        expect(JSON.parse(JSON.stringify(record.raw)), 'raw must be JSON-safe').to.deep.equal(record.raw);
      }
      expect(items.filter((i) => i.type === 'delete'), 'a full read yields no deletions').to.be.empty;
      const last = finalState(items);
      expect(last.complete).to.equal(true);
      expect(stored(last.state)).to.deep.equal(last.state);
    });

    it('when read in full twice, then both reads yield the same anchors', async () => {
      const first = recordsOf(await read({ mode: 'full' })).map((r) => r.anchor).sort();
      const second = recordsOf(await read({ mode: 'full' })).map((r) => r.anchor).sort();
      expect(second).to.deep.equal(first);
    });

    it('when read incrementally from the final state of an unchanged source, then it yields no record and no deletion, and a new checkpoint', async () => {
      const full = await read({ mode: 'full' });
      const items = await read({ mode: 'incremental', state: stored(finalState(full).state) });
      expect(items.filter((i) => i.type !== 'state')).to.deep.equal([]);
      finalState(items);
    });

    it('when the read is aborted before it starts, then it rejects and yields nothing', async () => {
      const controller = new AbortController();
      controller.abort(new Error('stop'));
      const yielded: SourceItem[] = [];
      const error = await (async () => {
        for await (const item of fixture.connector.read(config, { mode: 'full' }, { signal: controller.signal })) yielded.push(item);
      })().then(() => null, (e: unknown) => e);
      expect(error).to.be.instanceOf(Error);
      expect(yielded).to.be.empty;
    });

    it('when checked with a good configuration, then check resolves', async () => {
      await fixture.connector.check(config);
    });

    it('when checked with a configuration the source refuses, then check rejects with a ConnectorError', async () => {
      const bad = fixture.connector.parseConfig(fixture.rawConfigRejectedByCheck);
      const error = await fixture.connector.check(bad).then(() => null, (e: unknown) => e);
      expect(error).to.be.instanceOf(ConnectorError);
      expect((error as ConnectorError).message).to.not.equal('');
    });

    it('when parsing invalid configurations, then parseConfig throws a ConnectorConfigError with a readable message', () => {
      expect(fixture.invalidRawConfigs, 'the fixture must list invalid configurations').to.not.be.empty;
      for (const { raw, message } of fixture.invalidRawConfigs) {
        let error: unknown;
        try {
          fixture.connector.parseConfig(raw);
        } catch (e) {
          error = e;
        }
        expect(error, `parseConfig(${JSON.stringify(raw)}) must throw`).to.be.instanceOf(ConnectorConfigError);
        expect((error as ConnectorConfigError).kind).to.equal('config');
        expect((error as ConnectorConfigError).message).to.match(message);
      }
    });
  });
}
