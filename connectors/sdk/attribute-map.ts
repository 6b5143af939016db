import type { ConfigProperty } from './types.js';

/**
 * The user attributes a connector's `attributeMap` can fill, by the names the map uses (enterprise and Switchboard
 * extension attributes by their short name). `emails.work` and `phoneNumbers.work` take every value of a
 * multi-valued source property, the others the first. A connector adds its own targets (LDAP: the anchor and the
 * manager's DN) to these.
 */
export const USER_MAP_TARGETS = [
  'userName',
  'name.givenName',
  'name.familyName',
  'name.formatted',
  'displayName',
  'title',
  'active',
  'emails.work',
  'phoneNumbers.work',
  'mobileNumber',
  'employeeNumber',
  'department',
  'extensions',
] as const;

/** The `attributeMap` object's properties for a configuration schema: one string per target, described by the connector. */
export function attributeMapProperties(targets: readonly string[], describe: (target: string) => string): Record<string, ConfigProperty> {
  return Object.fromEntries(targets.map((target): [string, ConfigProperty] => [target, { type: 'string', description: describe(target) }]));
}
