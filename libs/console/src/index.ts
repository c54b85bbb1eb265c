/**
 * Owns the CSO/CISO console (DESIGN §17): the page (`ui/`, built by `scripts/build.mjs`), the
 * routes that serve it, and reader sessions.
 */
export * from './session';
export * from './plugin';
