/**
 * The import rules of STYLE.md ("Which way imports point"), checked by `npm run typecheck` (and so by CI).
 * Layers, top to bottom: the composition (src/main, deps, app, server, connectors) → the edges (scim/ and
 * http/ together, cli/, sync/) → services/ → db/ → domain/ → lib/. A layer imports only layers below it;
 * connectors/sdk is the contract every layer may read. Type-only imports count: a cycle of types is still a cycle.
 */
const composition = '^src/(main|deps|app|server|connectors)\\.ts$';
const below = (...layers) => `^src/(${layers.join('|')})/`;

/** `from` may not import `to`: one rule per layer, naming what lies above or beside it. */
const layer = (name, comment, from, to) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only imports and import() type references included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer('lib-is-the-bottom', 'lib/ holds generic helpers: it imports nothing of src/ but lib/.', '^src/lib/', `${composition}|${below('domain', 'db', 'services', 'sync', 'scim', 'http', 'cli')}`),
    layer('domain-is-pure', 'domain/ imports only domain/, lib/ and the connector contract.', '^src/domain/', `${composition}|${below('db', 'services', 'sync', 'scim', 'http', 'cli')}|^connectors/(?!sdk/)`),
    layer('db-below-services', 'db/ imports only domain/ and lib/ (no scimmy, no SCIM edge, no services).', '^src/db/', `${composition}|${below('services', 'sync', 'scim', 'http', 'cli')}|^connectors/(?!sdk/)|^node_modules/scimmy/`),
    layer('services-below-edges', 'services/ import db/, domain/, lib/ and the connector contract, never an edge or the composition.', '^src/services/', `${composition}|${below('sync', 'scim', 'http', 'cli')}|^connectors/(?!sdk/)`),
    layer('sync-is-an-edge', 'sync/ turns connector records into domain changes through services/ and db/; it imports no other edge.', '^src/sync/', `${composition}|${below('scim', 'http', 'cli')}|^connectors/(?!sdk/)`),
    layer('scim-http-edge', 'scim/ and http/ (the HTTP edge) import services/, db/ types, domain/, lib/; not sync/, cli/ or the composition.', '^src/(scim|http)/', `${composition}|${below('sync', 'cli')}|^connectors/(?!sdk/)`),
    layer('cli-edge', 'cli/ talks to a running server over HTTP; only its serve command (program.ts) starts one.', '^src/cli/(?!program\\.ts$)', `${composition}|${below('sync', 'scim', 'http', 'services')}|^connectors/`),
    layer('cli-program', 'cli/program.ts is the process entry: it starts the server, and its operator commands on the stopped database (migrate, secrets rotate) call db/ and services/; never an edge or a connector.', '^src/cli/program\\.ts$', `^src/(main|deps|app|connectors)\\.ts$|${below('sync', 'scim', 'http')}|^connectors/`),
    {
      name: 'config-read-once',
      comment: 'The environment is read once, by the composition and the CLI; other layers take the types of its sections.',
      severity: 'error',
      from: { path: '^src/', pathNot: `${composition}|^src/cli/program\\.ts$|^src/config\\.ts$` },
      to: { path: '^src/config\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'routers-call-services',
      comment: 'The HTTP edge calls services, never a repository or the database itself (types of their records are fine).',
      severity: 'error',
      from: { path: '^src/(scim|http)/' },
      to: { path: '^src/db/(.+-repo|database)\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'connectors-stay-out-of-src',
      comment: 'connectors/<kind> import only connectors/sdk, their own files and their own client libraries.',
      severity: 'error',
      from: { path: '^connectors/([^/]+)/', pathNot: ['^connectors/(sdk|testing)/', '\\.test\\.ts$'] },
      to: { path: '^(src/|connectors/)', pathNot: ['^connectors/sdk/', '^connectors/$1/'] },
    },
    {
      name: 'sdk-stays-out-of-src',
      comment: 'connectors/sdk is the contract: it imports nothing of src/ or of a connector.',
      severity: 'error',
      from: { path: '^connectors/sdk/' },
      to: { path: '^(src/|connectors/(?!sdk/))' },
    },
    {
      name: 'only-the-composition-picks-connectors',
      comment: 'src/ reaches a connector kind only through the registry in src/connectors.ts.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/connectors\\.ts$' },
      to: { path: '^connectors/(?!sdk/)' },
    },
    {
      name: 'migrations-only-knex',
      comment: 'Migrations are frozen history: they import knex and nothing else.',
      severity: 'error',
      from: { path: '^migrations/' },
      to: { pathNot: '^node_modules/knex/' },
    },
    {
      name: 'knexfile-starts-nothing',
      comment: 'knexfile.ts reads the configuration and opens the database; it never builds or starts the app.',
      severity: 'error',
      from: { path: '^knexfile\\.ts$' },
      to: { path: `${composition}|${below('services', 'sync', 'scim', 'http', 'cli')}` },
    },
    {
      name: 'no-test-code-in-the-product',
      comment: 'src/ and connectors/ never import test/ or bench/ (their own *.test.ts files may).',
      severity: 'error',
      from: { path: '^(src|connectors)/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|fixtures)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.json'] },
    detectJSDocImports: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
