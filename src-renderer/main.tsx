import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { ScreenState } from '../src-main/api/contract.js';
import { App } from './App.js';
import { initI18n } from './i18n/i18n.js';
import { connectToCore } from './transport.js';
import './styles.css';

/** Waits for the core (it may still be starting, or restarting), then shows the screens. */
async function boot(): Promise<void> {
  const root = createRoot(document.getElementById('root')!);
  let linkUp = true;
  const view: { render?: (up: boolean) => void } = {};
  const api = connectToCore((up) => {
    linkUp = up;
    view.render?.(up);
  });
  let initial: ScreenState | undefined;
  for (let delay = 250; !initial; delay = Math.min(delay * 2, 5_000)) {
    try {
      initial = await api.call('screen.state', {});
    } catch {
      document.getElementById('boot')?.setAttribute('data-waiting', 'true');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  await initI18n(initial.language);
  const state = initial;
  view.render = (up) =>
    root.render(
      <StrictMode>
        <App api={api} initial={state} linkUp={up} />
      </StrictMode>,
    );
  view.render(linkUp);
}

void boot();
