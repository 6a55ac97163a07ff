// Coinbridge's entry point: `node src/main.js` (what `npm start` runs).
//
// Plain JavaScript on purpose. Node's compile cache keeps compiled code and the stripped form of
// every TypeScript module on disk, so a restart skips the compile work and never loads the
// TypeScript stripper at all: about 17 MB of memory and a good part of start-up. That works only
// if the cache is on before the first TypeScript file is read, and an entry written in
// TypeScript would itself be stripped first.
import module from 'node:module';

module.enableCompileCache();
await import('./serve.ts');
// Node writes the cache when the process exits; write it now that everything is loaded, so a
// process that is killed rather than stopped still leaves a warm cache for the next start.
module.flushCompileCache();
