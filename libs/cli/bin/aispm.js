#!/usr/bin/env node
// The installed `aispm` command. It exists before the first build, so npm can link it; the
// implementation is the compiled TypeScript in dist/.
try {
  require.resolve('../dist/main.js');
} catch {
  process.stderr.write('aispm: not built yet; run `npm run build` (or `npm run up`) first.\n');
  process.exit(1);
}
const argv = process.argv.slice(2);
// The collectors run inside other tools' hooks: they load only their own module.
require(argv[0] === 'collect' ? '../dist/collect.js' : '../dist/main.js').run(argv);
