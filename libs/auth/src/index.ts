/**
 * Owns how the gateway tells who is calling and what they may send (DESIGN §5): request
 * signatures with replay protection, collector scopes and repository globs, OIDC workload
 * identity, and API key secrets. Nothing here is wired to HTTP; the gateway maps the results.
 */
export * from './signature';
export * from './glob';
export * from './scopes';
export * from './oidc';
export * from './secrets';
export * from './webhook';
