/**
 * The generic way the CLI writes attributes it has no flag for: `--set PATH=VALUE` (a string; the server reads
 * "true"/"false" as booleans where the schema says boolean), `--set-json PATH=JSON` (numbers, lists, objects) and
 * `--remove PATH`. On an update they become PATCH operations (the server resolves the path, extension URNs
 * included); on a create they are placed into the new resource.
 */
import { readFile } from 'node:fs/promises';

export interface SetOptions {
  set?: string[];
  setJson?: string[];
  remove?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The commander options, for `.option(...setOptions.set)`. */
export const setOptions = {
  set: ['--set <path=value>', 'set an attribute to a string, e.g. title=Engineer or urn:…:User:accountAdmin=true (repeatable)', collect] as const,
  setJson: ['--set-json <path=json>', 'set an attribute to a JSON value, e.g. \'phoneNumbers=[{"value":"+32470123456","type":"mobile"}]\' (repeatable)', collect] as const,
  remove: ['--remove <path>', 'remove an attribute (repeatable)', collect] as const,
};

function split(pair: string, flag: string): [string, string] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new Error(`${flag} takes PATH=VALUE, got "${pair}"`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`--set-json ${path}: not JSON (${(error as Error).message}); quote strings, e.g. ${path}='"text"'`);
  }
}

/** Every PATH=VALUE given, in order (--set before --set-json). */
export function assignments(opts: SetOptions): [string, unknown][] {
  return [
    ...(opts.set ?? []).map((pair) => split(pair, '--set')),
    ...(opts.setJson ?? []).map((pair): [string, unknown] => {
      const [path, text] = split(pair, '--set-json');
      return [path, parseJson(path, text)];
    }),
  ];
}

/** PATCH operations: a replace per assignment, a remove per --remove. */
export function patchOperations(opts: SetOptions): { op: string; path: string; value?: unknown }[] {
  return [...assignments(opts).map(([path, value]) => ({ op: 'replace', path, value })), ...(opts.remove ?? []).map((path) => ({ op: 'remove', path }))];
}

/**
 * Places `value` at `path` in a resource being created: `a.b` nests, and a path starting with a schema URN
 * (`urn:…:User:attr`) goes into that schema's block, which is added to `schemas`.
 */
export function placeInto(resource: Record<string, unknown>, path: string, value: unknown): void {
  let target = resource;
  let rest = path;
  if (/^urn:/i.test(path)) {
    const at = path.lastIndexOf(':');
    const schema = path.slice(0, at);
    rest = path.slice(at + 1);
    const schemas = (resource.schemas ??= []) as string[];
    if (!schemas.includes(schema)) schemas.push(schema);
    target = (resource[schema] ??= {}) as Record<string, unknown>;
  }
  const names = rest.split('.');
  for (const name of names.slice(0, -1)) target = (target[name] ??= {}) as Record<string, unknown>;
  target[names.at(-1)!] = value;
}

/** A JSON object read from a file, or an error naming the file. */
export async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read the JSON file ${file}: ${(error as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file} must hold a JSON object`);
  return value as Record<string, unknown>;
}
