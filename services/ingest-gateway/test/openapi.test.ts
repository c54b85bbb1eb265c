import fastify from 'fastify';
import { ERROR_CODES } from '@aispm/errors';
import { adminRoutes } from '../src/plugins/admin';
import { collectorRoutes } from '../src/plugins/collectors';
import { ingestRoutes } from '../src/plugins/ingest';
import { openApiDocument } from '../src/plugins/openapi';
import { replayRoutes } from '../src/plugins/replay';
import { readRoutes } from '../src/plugins/reads';

/** Routes as Fastify registers them: `METHOD /path` with `:param` written as `{param}`. */
async function registeredRoutes(): Promise<string[]> {
  const routes: string[] = [];
  const app = fastify();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method !== 'HEAD') routes.push(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
    }
  });
  // The plugins only register routes here; nothing they depend on is called.
  const unused = {} as never;
  await app.register(ingestRoutes(unused));
  await app.register(collectorRoutes(unused));
  await app.register(adminRoutes({ control: { state: {} } } as never), { prefix: '/enterprise/aispm/admin' });
  await app.register(replayRoutes(unused));
  await app.register(readRoutes({ database: 'aispm' } as never), { prefix: '/enterprise/aispm' });
  await app.ready();
  return routes;
}

describe('OpenAPI document', () => {
  const document = openApiDocument() as {
    paths: Record<string, Record<string, unknown>>;
    components: { schemas: { Problem: { properties: { code: { enum: string[] } } } } };
  };

  it('describes every ingest, admin, replay and read route', async () => {
    const documented = Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const route of await registeredRoutes()) expect(documented).toContain(route);
  });

  it('lists every error code', () => {
    expect(document.components.schemas.Problem.properties.code.enum.sort()).toEqual(
      Object.keys(ERROR_CODES).sort(),
    );
  });
});
