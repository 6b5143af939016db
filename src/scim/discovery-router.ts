import { Router, type Response } from 'express';
import { DomainError, notFound } from '../domain/errors.js';
import type { AttributeDef, ResourceTypeDef, SchemaDef } from '../domain/scim-schema.js';
import { maxLengthOf } from '../domain/attribute-limits.js';
import { contextOf } from '../http/request-context.js';
import { listResponse, sendScim } from './scim-http.js';
import { URN } from './urns.js';
import { refuseOtherMethods } from './method-not-allowed.js';

export interface ServiceLimits {
  maxResults: number;
  bulkMaxOperations: number;
  bulkMaxPayloadBytes: number;
  cursorTtlSeconds: number;
}

/** Drops nulls and undefineds: discovery documents must not carry them. */
function clean<T>(value: T): T {
  if (Array.isArray(value)) return value.map(clean) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = clean(v);
    return out as T;
  }
  return value;
}

export function serviceProviderConfig(limits: ServiceLimits, scimBase: string): Record<string, unknown> {
  return {
    schemas: [URN.serviceProviderConfig],
    documentationUri: 'https://www.rfc-editor.org/rfc/rfc7644',
    patch: { supported: true },
    bulk: { supported: true, maxOperations: limits.bulkMaxOperations, maxPayloadSize: limits.bulkMaxPayloadBytes },
    filter: { supported: true, maxResults: limits.maxResults },
    changePassword: { supported: true },
    sort: { supported: true },
    etag: { supported: true },
    pagination: {
      cursor: true,
      index: true,
      defaultPaginationMethod: 'index',
      defaultPageSize: Math.min(100, limits.maxResults),
      maxPageSize: limits.maxResults,
      cursorTimeout: limits.cursorTtlSeconds,
    },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'Authentication with a bearer token issued by Switchboard (POST /Tokens).',
        specUri: 'https://www.rfc-editor.org/info/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${scimBase}/ServiceProviderConfig` },
  };
}

function resourceTypeResource(rt: ResourceTypeDef, scimBase: string): Record<string, unknown> {
  return {
    schemas: [URN.resourceType],
    id: rt.id,
    name: rt.name,
    endpoint: rt.endpoint,
    description: rt.description,
    schema: rt.schema.id,
    schemaExtensions: rt.extensions.map((e) => ({ schema: e.schema.id, required: e.required })),
    meta: { resourceType: 'ResourceType', location: `${scimBase}/ResourceTypes/${rt.id}` },
  };
}

/**
 * RFC 7643 has no maxLength characteristic: each string attribute's limit (domain/attribute-limits.ts) is
 * advertised in its description, where a client's developer reads it.
 */
function withLengths(attributes: readonly AttributeDef[], resourceType: string, prefix = ''): AttributeDef[] {
  return attributes.map((attribute) => {
    const path = `${prefix}${attribute.name}`;
    if (attribute.type === 'complex') return { ...attribute, ...(attribute.subAttributes ? { subAttributes: withLengths(attribute.subAttributes, resourceType, `${path}.`) } : {}) };
    if (attribute.type !== 'string' && attribute.type !== 'reference') return attribute;
    const limit = `At most ${maxLengthOf(resourceType, path)} characters.`;
    return { ...attribute, description: attribute.description ? `${attribute.description.replace(/\.?\s*$/, '.')} ${limit}` : limit };
  });
}

function schemaResource(schema: SchemaDef, scimBase: string, resourceType: string): Record<string, unknown> {
  return clean({
    schemas: [URN.schema],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: withLengths(schema.attributes, resourceType),
    meta: { resourceType: 'Schema', location: `${scimBase}/Schemas/${schema.id}` },
  });
}

function refuseFilter(query: Record<string, unknown>): void {
  if (Object.keys(query).some((k) => k.toLowerCase() === 'filter')) {
    throw new DomainError('forbidden', 'Discovery endpoints do not support filtering (RFC 7644 §4)');
  }
}

export function discoveryRouter(deps: { resourceTypes: () => readonly ResourceTypeDef[]; limits: ServiceLimits }): Router {
  const router = Router({ mergeParams: true });
  const schemasOf = (): SchemaDef[] => {
    const seen = new Map<string, SchemaDef>();
    for (const rt of deps.resourceTypes()) for (const s of [rt.schema, ...rt.extensions.map((e) => e.schema)]) seen.set(s.id, s);
    return [...seen.values()];
  };
  const typeOfSchema = (id: string): string => deps.resourceTypes().find((rt) => rt.schema.id === id || rt.extensions.some((e) => e.schema.id === id))?.name ?? '';
  const base = (res: Response) => contextOf(res).scimBase;

  // /serviceConfiguration is the path Microsoft's reference server and its test collection use.
  router.get(['/ServiceProviderConfig', '/serviceConfiguration'], (req, res) => {
    refuseFilter(req.query);
    sendScim(res, 200, serviceProviderConfig(deps.limits, base(res)));
  });
  router.get('/ResourceTypes', (req, res) => {
    refuseFilter(req.query);
    const all = deps.resourceTypes().map((rt) => resourceTypeResource(rt, base(res)));
    sendScim(res, 200, listResponse(all, all.length, 1));
  });
  router.get('/ResourceTypes/:id', (req, res) => {
    const rt = deps.resourceTypes().find((r) => r.id.toLowerCase() === req.params.id.toLowerCase());
    if (!rt) throw notFound(`ResourceType ${req.params.id}`);
    sendScim(res, 200, resourceTypeResource(rt, base(res)));
  });
  router.get('/Schemas', (req, res) => {
    refuseFilter(req.query);
    const all = schemasOf().map((s) => schemaResource(s, base(res), typeOfSchema(s.id)));
    sendScim(res, 200, listResponse(all, all.length, 1));
  });
  router.get('/Schemas/:id', (req, res) => {
    const schema = schemasOf().find((s) => s.id.toLowerCase() === req.params.id.toLowerCase());
    if (!schema) throw notFound(`Schema ${req.params.id}`);
    sendScim(res, 200, schemaResource(schema, base(res), typeOfSchema(schema.id)));
  });
  refuseOtherMethods(router, ['/ServiceProviderConfig', '/serviceConfiguration', '/ResourceTypes', '/ResourceTypes/:id', '/Schemas', '/Schemas/:id'], ['GET']);
  return router;
}
