/**
 * Starts the real servers (Kafka, ClickHouse, Apicurio) through the project's own scripts before
 * the integration and end-to-end suites. Idempotent: servers already running are reused.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export default async function globalSetup(): Promise<void> {
  const repo = path.resolve(__dirname, '../..');
  execFileSync('bash', [path.join(repo, 'deploy/local/infra.sh'), 'start'], { stdio: 'inherit' });
}
