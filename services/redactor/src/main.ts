import { runMain, runWorker } from '@aispm/service';
import { buildRedactor } from './app';
import { loadEnv } from './env';

runMain(async () => {
  const config = loadEnv();
  await runWorker('redactor', config, (context) => buildRedactor(config, context));
});
