/**
 * Owns how the gateway tells who is calling and what they may send (DESIGN §5): request
 * signatures with replay protection, collector scopes and repository globs, OIDC workload
 * identity of one issuer or several and what a token's claims bind, and API key secrets.
 * Nothing here is wired to HTTP; the services map the results.
 */
export * from './signature';
export * from './glob';
export * from './scopes';
export * from './oidc';
export * from './workload';
export * from './secrets';
export * from './webhook';
export * from './oidc-settings';
