import module from 'node:module';

// Compiled code (and Node's stripped TypeScript) is cached on disk, so a restart skips most of
// the compile work: about a third of start-up. Enabled before the app's modules are imported,
// which is why they are imported dynamically.
module.enableCompileCache();
const [{ startCoinbridge }, { loadConfig }, { ConfigError }] = await Promise.all([import('./app.ts'), import('./config.ts'), import('./errors.ts')]);

try {
  const config = loadConfig();
  const app = await startCoinbridge(config);
  const open = config.seedDemo ? `${config.publicUrl}/demo/` : `${config.publicUrl}/healthz`;
  process.stdout.write(`\nCoinbridge is running. Open ${open}\n\n`);
  const stop = async (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }
  throw err;
}
