/**
 * Builds the redactor stage: raw envelopes in, redacted envelopes out, in one Kafka transaction
 * per batch. Every envelope passes the redaction core with the default profile (every detector,
 * masking); per-tenant profiles and token keys come with the tenant's redaction settings. If the
 * core throws, the stage runner dead-letters the event: it never goes downstream unredacted.
 */
import { contentHash, HEADERS, TOPIC_SCHEMAS, type Envelope, type RedactedEnvelope } from '@aispm/contracts';
import { TransformStage, type StageInput, type WorkerConfig, type WorkerContext } from '@aispm/kafka';
import { compileProfile, redact, type CompiledProfile } from '@aispm/redaction';

/** The redacted-stage message of one raw envelope. */
export function redactStage(input: StageInput<Envelope>, profile: CompiledProfile) {
  const { envelope, report } = redact(input.value, profile);
  const message: RedactedEnvelope = {
    schema_version: 'aispm.redacted_envelope.v1',
    envelope,
    report,
    source: { topic: input.topic, partition: input.partition, offset: input.offset },
    received_ms: Number(input.headers[HEADERS.receivedMs] ?? Date.now()),
    content_hash: input.headers[HEADERS.contentHash] ?? contentHash(input.value),
  };
  return { ok: true as const, value: message };
}

export function buildRedactor(config: WorkerConfig, { kafka, codec, logger, metrics }: WorkerContext) {
  const profile = compileProfile({});
  return new TransformStage<Envelope, RedactedEnvelope>(
    kafka,
    {
      service: 'redactor',
      instanceId: config.AISPM_INSTANCE_ID,
      groupPrefix: config.AISPM_GROUP_PREFIX,
      inputStage: 'raw',
      outputStage: 'redacted',
      outputSchema: TOPIC_SCHEMAS.redacted,
      topicRefreshMs: config.AISPM_TOPIC_REFRESH_MS,
      tenantPattern: config.AISPM_TENANT_PATTERN,
      core: (input) => redactStage(input, profile),
      keyOf: (output) => output.envelope.event.session_id,
    },
    codec,
    logger,
    metrics,
  );
}
