/**
 * Owns a tenant's redaction settings in the admin API (DESIGN §7): reading and replacing the
 * profile carried in the tenant's control record, and the dry run, which shows what the saved
 * profile (or a draft) does to a sample envelope and stores nothing. The tenant's tokenization
 * key is made here once, sealed under the KMS, and never leaves it in plaintext.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { ControlTenantRedaction } from '@aispm/contracts';
import { compileTenantProfile, tokenKeyContext, type AuditTrail, type ControlPlane } from '@aispm/control';
import { AppError } from '@aispm/errors';
import type { Kms } from '@aispm/kms';
import { redact, RedactionError } from '@aispm/redaction';
import { requireRole } from '@aispm/http';

export interface RedactionDeps {
  readonly control: ControlPlane;
  readonly audit: AuditTrail;
  readonly kms: Kms;
}

const action = { enum: ['mask', 'tokenize'] };

/** The settings an admin may write: everything but the sealed key, which the gateway owns. */
const settingsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    default_action: action,
    actions: { type: 'object', maxProperties: 200, additionalProperties: action },
    custom_patterns: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        required: ['kind', 'pattern'],
        additionalProperties: false,
        properties: {
          kind: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' },
          pattern: { type: 'string', minLength: 1, maxLength: 1000 },
          flags: { type: 'string', pattern: '^[imsu]*$' },
          action,
        },
      },
    },
    deny_fields: { type: 'array', maxItems: 200, items: { type: 'string', minLength: 1, maxLength: 256 } },
  },
};

type Settings = Omit<ControlTenantRedaction, 'sealed_token_key'>;

const slugParams = {
  type: 'object',
  required: ['slug'],
  properties: { slug: { type: 'string' } },
} as const;

/** The profile as shown: the settings, never the sealed key. */
const profileResponse = {
  description: "The tenant's redaction profile",
  type: 'object',
  properties: { slug: { type: 'string' }, redaction: settingsSchema },
} as const;

/** The settings as shown: without the sealed key. */
function visible(settings: ControlTenantRedaction | undefined): Settings {
  const { sealed_token_key: _sealed, ...rest } = settings ?? {};
  return rest;
}

export function redactionRoutes(deps: RedactionDeps): FastifyPluginAsync {
  const { control, kms } = deps;
  const state = control.state;

  function liveTenant(slug: string) {
    const tenant = state.tenant(slug);
    if (!tenant) throw new AppError('GW_NOT_FOUND', `No tenant ${slug}`);
    return tenant;
  }

  return async (app) => {
    app.addHook('onRequest', async () => {
      if (!control.caughtUp())
        throw new AppError('GW_CONTROL_PLANE_NOT_READY', 'The control plane is still loading');
    });

    app.get<{ Params: { slug: string } }>(
      '/tenants/:slug/redaction',
      {
        schema: {
          summary: "Show the tenant's redaction profile (never its token key).",
          params: slugParams,
          response: { 200: profileResponse },
        },
      },
      async (request) => {
        requireRole(request.principal, 'admin', request.params.slug);
        const tenant = liveTenant(request.params.slug);
        return { slug: tenant.slug, redaction: visible(tenant.redaction) };
      },
    );

    app.put<{ Params: { slug: string }; Body: Settings }>(
      '/tenants/:slug/redaction',
      {
        schema: {
          summary: "Replace the tenant's redaction profile: actions, custom patterns, denied fields.",
          params: slugParams,
          body: settingsSchema,
          response: { 200: profileResponse },
        },
      },
      async (request) => {
        const principal = request.principal;
        requireRole(principal, 'admin', request.params.slug);
        const tenant = liveTenant(request.params.slug);
        // One key per tenant for good: a replaced profile keeps it, so tokens stay comparable.
        const sealed =
          tenant.redaction?.sealed_token_key ??
          (await kms.seal(randomBytes(32), tokenKeyContext(tenant.slug)));
        const redaction: ControlTenantRedaction = { ...request.body, sealed_token_key: sealed };
        // Refuse what the redactor could not compile, before any redactor sees it.
        await compileTenantProfile(tenant.slug, redaction, kms);
        await control.publish({ ...tenant, redaction });
        await deps.audit.append('redaction_profile.set', principal, tenant.slug, {
          custom_kinds: (request.body.custom_patterns ?? []).map((custom) => custom.kind),
          deny_fields: request.body.deny_fields ?? [],
        });
        request.log.info({ tenant: tenant.slug }, 'redaction profile set');
        return { slug: tenant.slug, redaction: visible(redaction) };
      },
    );

    app.post<{ Params: { slug: string }; Body: { envelope: Record<string, unknown>; profile?: Settings } }>(
      '/tenants/:slug/redaction/dry-run',
      {
        schema: {
          summary: 'Show what the saved profile, or a draft, does to a sample envelope; stores nothing.',
          params: slugParams,
          body: {
            type: 'object',
            required: ['envelope'],
            additionalProperties: false,
            properties: { envelope: { type: 'object' }, profile: settingsSchema },
          },
          response: {
            200: {
              description: 'The envelope as the redactor would write it, and what it found',
              type: 'object',
              properties: {
                slug: { type: 'string' },
                profile: { enum: ['saved', 'draft'] },
                envelope: { type: 'object', additionalProperties: true },
                report: {
                  type: 'object',
                  additionalProperties: true,
                  properties: {
                    redactor: { type: 'string' },
                    counts: {
                      type: 'object',
                      additionalProperties: { type: 'integer' },
                      description: 'Findings by kind',
                    },
                    pointers: { type: 'array', items: { type: 'string' } },
                  },
                },
                stored: { const: false },
              },
            },
          },
        },
      },
      async (request) => {
        requireRole(request.principal, 'admin', request.params.slug);
        const tenant = liveTenant(request.params.slug);
        const saved = tenant.redaction;
        // A draft tokenizes under the tenant's own key when it has one, as it would once saved.
        const settings = request.body.profile
          ? {
              ...request.body.profile,
              ...(saved?.sealed_token_key ? { sealed_token_key: saved.sealed_token_key } : {}),
            }
          : saved;
        const profile = await compileTenantProfile(tenant.slug, settings, kms, randomBytes(32));
        let redaction;
        try {
          redaction = redact(request.body.envelope as never, profile);
        } catch (error) {
          if (error instanceof RedactionError) throw new AppError('GW_BAD_REQUEST', error.message);
          throw error;
        }
        const { envelope, report } = redaction;
        return {
          slug: tenant.slug,
          profile: request.body.profile ? 'draft' : 'saved',
          envelope,
          report,
          stored: false,
        };
      },
    );
  };
}
