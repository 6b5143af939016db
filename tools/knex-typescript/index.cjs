// The knex CLI loads a TypeScript knexfile by first requiring the first module it can resolve from interpret's list
// for '.ts' (ts-node/register, typescript-register, …), then import()-ing the file. `typescript-register` is one of
// those names, installed from this folder as a devDependency: it registers tsx's ESM hooks in the knex process only,
// so plain `npx knex migrate:latest` loads knexfile.ts and the migrations with no flags and no NODE_OPTIONS.
const { register } = require('node:module');
const { pathToFileURL } = require('node:url');

// tsx's hooks refuse to start without `data` (their sign of --import rather than the deprecated --loader).
register('tsx/esm', pathToFileURL(__filename), { data: {} });
