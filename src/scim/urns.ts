/** Schema and message URNs (RFC 7643, RFC 7644, and ours): plain data, kept in domain/ so every layer may read it. */
export { URN } from '../domain/scim-schemas.js';
