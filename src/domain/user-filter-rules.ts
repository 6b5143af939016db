import { DomainError } from './errors.js';
import { resolveAttributePath, UnknownAttributeError, type ResourceTypeDef } from './scim-schema.js';
import type { FilterNode } from './scim-filter.js';

const SMS = 'urn:switchboard:scim:schemas:extension:2.0:User:smsNumber';
/** The seed's Property filter: Admins, Users, Registered/Unregistered, PBX Users, MiCloud/IoT Connected, Inactive. */
const propertyAttributes = new Set([
  'urn:switchboard:scim:schemas:extension:2.0:User:accountAdmin',
  'urn:switchboard:scim:schemas:extension:2.0:User:registered',
  'urn:switchboard:scim:schemas:extension:2.0:User:connections',
  'urn:switchboard:scim:schemas:extension:2.0:User:source',
  'active',
]);
/** The seed's Search Users box: name, email address or extension number. */
const searchAttributes = new Set(['userName', 'displayName', 'name', 'emails', 'urn:switchboard:scim:schemas:extension:2.0:User:extensions']);

function attributesOf(node: FilterNode, out: string[] = []): string[] {
  switch (node.op) {
    case 'and':
    case 'or':
      node.filters.forEach((f) => attributesOf(f, out));
      break;
    case 'not':
      attributesOf(node.filter, out);
      break;
    default:
      out.push(node.attrPath);
  }
  return out;
}

/**
 * Rules of the seed's Users page: searching by SMS number excludes the Search Users box, and the SMS Number
 * filter and the Property filter cannot be used together.
 */
export function checkUserFilterRules(node: FilterNode, resourceType: ResourceTypeDef): void {
  const tops = new Set<string>();
  for (const path of attributesOf(node)) {
    // Unqualified extension names ("registered") resolve as the filter compiler resolves them.
    for (const candidate of [path, ...resourceType.extensions.map((e) => `${e.schema.id}:${path}`)]) {
      try {
        const resolved = resolveAttributePath(resourceType, candidate);
        tops.add(resolved.extension ? `${resolved.schemaId}:${resolved.attribute.name}` : resolved.attribute.name);
        break;
      } catch (error) {
        if (!(error instanceof UnknownAttributeError)) throw error;
      }
    }
  }
  if (!tops.has(SMS)) return;
  if ([...tops].some((a) => propertyAttributes.has(a))) {
    throw new DomainError('invalidFilter', 'The SMS Number filter cannot be combined with the Property filter (accountAdmin, registered, connections, source, active)');
  }
  if ([...tops].some((a) => searchAttributes.has(a))) {
    throw new DomainError('invalidFilter', 'Searching by SMS number cannot be combined with Search Users (name, email or extension)');
  }
}
