/**
 * Where the migrations are, for the server and for the knex CLI (knexfile.ts) alike. Each migration is named by
 * its source file (`20261129000100_create_core_tables.ts`) whether it runs from TypeScript (tsx, the knex CLI) or
 * compiled (`dist/`, `npm start`): knex records names with their extension, and a data directory migrated by one
 * must read as migrated to the other.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';

/** The migrations beside this module: `migrations/*.ts` from the sources, `dist/migrations/*.js` when compiled. */
const compiled = import.meta.url.endsWith('.js');
export const migrationsDirectory = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
const loadedExtension = compiled ? '.js' : '.ts';
export const MIGRATIONS_TABLE = 'knex_migrations';

interface MigrationFile {
  /** The source file's name: what knex records, and what `migrate:list` prints. */
  file: string;
  path: string;
}

/**
 * The migration sources of a compiled checkout, or undefined where only `dist/` is shipped. `tsc -b` never deletes an
 * output: a migration renamed or removed in the sources would otherwise still run from its stale `dist/` copy.
 */
async function sourceMigrationNames(): Promise<Set<string> | undefined> {
  if (!compiled) return undefined;
  try {
    return new Set((await fs.readdir(path.resolve(migrationsDirectory, '../../migrations'))).filter((f) => f.endsWith('.ts')));
  } catch {
    return undefined;
  }
}

export const migrationSource: Knex.MigrationSource<MigrationFile> = {
  async getMigrations() {
    const sources = await sourceMigrationNames();
    const files = (await fs.readdir(migrationsDirectory))
      .filter((f) => f.endsWith(loadedExtension) && !f.endsWith('.d.ts'))
      .filter((f) => sources === undefined || sources.has(`${f.slice(0, -loadedExtension.length)}.ts`))
      .sort();
    return files.map((f) => ({ file: `${f.slice(0, -loadedExtension.length)}.ts`, path: path.join(migrationsDirectory, f) }));
  },
  getMigrationName(migration) {
    return migration.file;
  },
  async getMigration(migration) {
    return (await import(pathToFileURL(migration.path).href)) as Knex.Migration;
  },
};

/** The migrator's configuration: our source and table, and for `migrate:make` the TypeScript stub of this repository. */
export function migrationConfig(): Knex.MigratorConfig {
  return {
    migrationSource,
    tableName: MIGRATIONS_TABLE,
    extension: 'ts',
    stub: path.join(migrationsDirectory, '..', 'src', 'db', 'migration.stub'),
  };
}

/**
 * Databases migrated from `dist/` before names were fixed recorded `….js`: renamed once to the source names, so
 * the knex CLI and the server agree on what has run.
 */
export async function normaliseMigrationNames(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable(MIGRATIONS_TABLE))) return;
  await knex(MIGRATIONS_TABLE).where('name', 'like', '%.js').update({ name: knex.raw(`regexp_replace(name, '\\.js$', '.ts')`) });
}
