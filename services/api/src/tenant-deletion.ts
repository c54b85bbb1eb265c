/**
 * What a tenant deletion does outside the control topic, wired for the API (the reconcile
 * itself is `TenantDeletions` in @aispm/control). Each effect is safe to run again: a topic
 * already gone is not listed, a key already destroyed is a no-op, rows already dropped are absent.
 */
import { dropTenantRows, type ClickHouse } from '@aispm/clickhouse';
import { parseTenantTopic } from '@aispm/contracts';
import type { DeletionEffects, DeletionStep } from '@aispm/control';
import type { Kms } from '@aispm/kms';
import { isUnknownTopic, type KafkaAdmin } from '@aispm/kafka';

/** Lists and deletes this many times while topics vanish under it (see deleteTopics). */
const DELETE_TOPICS_ATTEMPTS = 5;

export function deletionEffects(
  kafkaAdmin: KafkaAdmin,
  kms: Kms,
  clickhouse: ClickHouse,
  database: string,
): DeletionEffects {
  return {
    destroyDataKey: (slug) => kms.destroyTenantKey(slug),
    async deleteTopics(slug) {
      // Every API instance carries a deletion through, so another may delete some of the topics
      // between this one's list and its delete, or while the listing refreshes metadata naming
      // them; a topic already gone is what the step wants, so it lists again and deletes what is
      // left.
      for (let attempt = 1; ; attempt += 1) {
        try {
          const topics = (await kafkaAdmin.listTopics()).filter(
            (topic) => parseTenantTopic(topic)?.tenant === slug,
          );
          if (topics.length > 0) await kafkaAdmin.deleteTopics({ topics });
          return;
        } catch (error) {
          if (!isUnknownTopic(error) || attempt >= DELETE_TOPICS_ATTEMPTS) throw error;
        }
      }
    },
    dropRows: (slug) => dropTenantRows(clickhouse, database, slug),
  };
}

/** The fault tests' crash point: SIGKILL right after `crashAfter`, as a machine that dies would. */
export function crashAfterStep(crashAfter: DeletionStep | ''): ((step: DeletionStep) => void) | undefined {
  if (crashAfter === '') return undefined;
  return (step) => {
    if (step === crashAfter) process.kill(process.pid, 'SIGKILL');
  };
}
