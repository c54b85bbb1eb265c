/**
 * Owns ingestion-health evidence (DESIGN §13) beyond what a single process measures: the fold of
 * `aispm.health`, the tenant's health document, and the readers that follow the topic and store it.
 */
export * from './state';
export * from './view';
export * from './kafka';
