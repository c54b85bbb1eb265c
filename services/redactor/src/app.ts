/**
 * Builds the redactor stage: raw envelopes in, redacted envelopes out, in one Kafka transaction
 * per batch. Each raw value is decrypted with the tenant's data key, then passes the redaction
 * core under the tenant's own profile (its control record's `redaction` settings and token key).
 * Every failure (a value that does not decrypt, a shredded key, an unknown tenant, a profile or
 * envelope the core refuses) dead-letters the event with its code: it never goes downstream
 * unredacted.
 */
import { contentHash, HEADERS, TOPIC_SCHEMAS, type Envelope, type RedactedEnvelope } from '@aispm/contracts';
import { ControlPlane, TenantProfiles, controlPlaneSettings } from '@aispm/control';
import { AppError } from '@aispm/errors';
import { TransformStage, type StageInput, workerStageSettings } from '@aispm/kafka';
import type { WorkerContext } from '@aispm/service';
import { LocalKms, RawDecryptor } from '@aispm/kms';
import { redact, RedactionError, type CompiledProfile } from '@aispm/redaction';
import type { RedactorConfig } from './env';

/** The redacted-stage message of one raw envelope. */
export function redactStage(input: StageInput<Envelope>, profile: CompiledProfile) {
  let redaction;
  try {
    redaction = redact(input.value, profile);
  } catch (error) {
    if (!(error instanceof RedactionError)) throw error;
    const code = error.reason === 'invalid_profile' ? 'REDACT_PROFILE_INVALID' : 'REDACT_ENVELOPE_INVALID';
    throw new AppError(code, error.message);
  }
  const message: RedactedEnvelope = {
    schema_version: 'aispm.redacted_envelope.v1',
    envelope: redaction.envelope,
    report: redaction.report,
    source: { topic: input.topic, partition: input.partition, offset: input.offset },
    received_ms: Number(input.headers[HEADERS.receivedMs] ?? Date.now()),
    content_hash: input.headers[HEADERS.contentHash] ?? contentHash(input.value),
  };
  return { ok: true as const, value: message };
}

export async function buildRedactor(
  config: RedactorConfig,
  { kafka, codec, logger, metrics }: WorkerContext,
) {
  const kms = LocalKms.fromFile(config.AISPM_KMS_MASTER_KEY_FILE, { create: true });
  const control = new ControlPlane(kafka, codec, logger, controlPlaneSettings('redactor', config));
  const profiles = new TenantProfiles(control.state, kms);
  const decryptor = new RawDecryptor(kms);
  // A deleted tenant's keys leave memory at once: its shredded raw log is unreadable here too.
  control.onChange((data) => {
    if (data.type === 'tenant' && data.deleted) {
      profiles.forget(data.slug);
      decryptor.forget(data.slug);
    }
  });
  await control.start();
  const stage = new TransformStage<Envelope, RedactedEnvelope>(
    kafka,
    {
      ...workerStageSettings('redactor', 'raw', control.tenantSource(), config),
      outputStage: 'redacted',
      outputSchema: TOPIC_SCHEMAS.redacted,
      decryptValue: (tenant, value) => decryptor.decrypt(tenant, value),
      core: async (input) => redactStage(input, await profiles.profileOf(input.tenant)),
      keyOf: (output) => output.envelope.event.session_id,
      // The gateway leaves the event id out of the raw topic's (unencrypted) headers.
      headersOf: (output) => ({ [HEADERS.eventId]: output.envelope.event.event_id }),
    },
    codec,
    logger,
    metrics,
  );
  return { stage, close: () => control.stop() };
}
