/**
 * Typed errors inside, translated once at each edge. Each kind maps to one HTTP status and,
 * where RFC 7644 §3.12 defines one, one scimType.
 */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive'
  | 'invalidCursor'
  | 'expiredCursor';

export type DomainErrorKind =
  | ScimType
  | 'notFound'
  | 'unauthorized'
  | 'forbidden'
  | 'conflict'
  | 'preconditionFailed'
  | 'payloadTooLarge'
  | 'unsupportedMediaType'
  | 'notImplemented'
  | 'methodNotAllowed'
  | 'tooManyRequests'
  | 'unavailable'
  | 'internal';

const statusOf: Record<DomainErrorKind, number> = {
  invalidFilter: 400,
  tooMany: 400,
  uniqueness: 409,
  mutability: 400,
  invalidSyntax: 400,
  invalidPath: 400,
  noTarget: 400,
  invalidValue: 400,
  invalidVers: 400,
  sensitive: 403,
  invalidCursor: 400,
  expiredCursor: 400,
  notFound: 404,
  unauthorized: 401,
  forbidden: 403,
  conflict: 409,
  preconditionFailed: 412,
  payloadTooLarge: 413,
  unsupportedMediaType: 415,
  notImplemented: 501,
  methodNotAllowed: 405,
  tooManyRequests: 429,
  unavailable: 503,
  internal: 500,
};

const scimTypes = new Set<string>([
  'invalidFilter', 'tooMany', 'uniqueness', 'mutability', 'invalidSyntax', 'invalidPath', 'noTarget',
  'invalidValue', 'invalidVers', 'sensitive', 'invalidCursor', 'expiredCursor',
]);

export const isScimType = (value: string): value is ScimType => scimTypes.has(value);

export class DomainError extends Error {
  readonly status: number;
  readonly scimType: ScimType | undefined;
  /** Seconds the client should wait before retrying (429, 503): sent as Retry-After. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly kind: DomainErrorKind,
    readonly detail: string,
    options: { retryAfterSeconds?: number } = {},
  ) {
    super(detail);
    this.name = 'DomainError';
    this.status = statusOf[kind];
    this.scimType = scimTypes.has(kind) ? (kind as ScimType) : undefined;
    this.retryAfterSeconds = options.retryAfterSeconds === undefined ? undefined : Math.max(1, Math.ceil(options.retryAfterSeconds));
  }
}

/** The uniqueness detail the seed shows to admins, naming the attribute. */
export function uniquenessError(attribute: string): DomainError {
  return new DomainError('uniqueness', `One or more of the attribute values are already in use: ${attribute}`);
}

export const notFound = (what: string): DomainError => new DomainError('notFound', `${what} not found`);
