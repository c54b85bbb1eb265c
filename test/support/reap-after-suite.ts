/**
 * Runs after each suite file's own hooks (jest `setupFilesAfterEnv`): stops whatever the suite
 * left running, so a failed suite never holds the run open.
 */
import { reapAll } from './reaper';

afterAll(reapAll, 120_000);
