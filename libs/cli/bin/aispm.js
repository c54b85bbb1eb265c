#!/usr/bin/env node
// The installed `aispm` command. It exists before the first build, so npm can link it; the
// implementation is the compiled TypeScript in dist/.
try {
  require.resolve('../dist/main.js');
} catch {
  process.stderr.write('aispm: not built yet; run `npm run build` (or `npm run up`) first.\n');
  process.exit(1);
}
require('../dist/main.js').run(process.argv.slice(2));
