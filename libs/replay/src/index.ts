/**
 * Owns replay (DESIGN §12): a tenant's stage read back from the topic log, by offset or time, into
 * NDJSON, into a rebuild of the projections, or back into the pipeline; with a dry run, a rate
 * limit, and the rule of who may replay what. The CLI and the gateway's auditor API both drive it.
 */
export * from './plan';
export * from './pace';
export * from './access';
export * from './record';
export * from './run';
