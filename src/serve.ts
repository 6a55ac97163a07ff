// The Coinbridge process: configuration, start, graceful stop. Entered through src/main.js.
import { startCoinbridge } from './app.ts';
import { loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';

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
