export * from './lingering-close';
export * from './openapi';
export * from './principal';
export * from './problems';
export * from './server';
