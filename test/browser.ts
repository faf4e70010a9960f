// A real headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for the web
// view's tests and bench/ui.ts. A fresh profile per launch, and the flags that keep Chromium from
// reaching for the network (this machine's network is closed: its attempts are refused anyway).
import fs from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1500, height: 850 }): Promise<Browser> {
  const profile = fs.mkdtempSync('/tmp/berth-chromium-');
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

