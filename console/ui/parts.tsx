import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, get } from './api.js';

/** Loads a GET path and reloads it on demand (after a change); undefined while loading. */
export function useLoad<T>(path: string | undefined): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (path === undefined) return;
    let live = true;
    get<T>(path).then(
      (d) => live && (setData(d), setError(undefined)),
      (err: unknown) => live && setError(err instanceof ApiError ? err.message : String(err)),
    );
    return () => {
      live = false;
    };
  }, [path, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, reload };
}

export function Refusal({ error }: { error: string | undefined }) {
  const { t } = useTranslation();
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {t('common.refused', { error })}
    </p>
  );
}

/** How long ago, in the words of the page's language. */
export function Ago({ ms }: { ms: number | null }) {
  const { t } = useTranslation();
  if (ms === null) return <>{t('common.never')}</>;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return <>{t('common.minutes', { count: minutes })}</>;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return <>{t('common.hours', { count: hours })}</>;
  return <>{t('common.days', { count: Math.floor(hours / 24) })}</>;
}

export function Table({ label, head, children, testId }: { label: string; head: ReactNode[]; children: ReactNode; testId?: string }) {
  return (
    <div className="table-wrap">
      <table aria-label={label} data-testid={testId}>
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** Runs a change, shows its refusal or "saved", then calls `done` (a reload). */
export function useChange(done: () => void): { run: (act: () => Promise<unknown>) => Promise<boolean>; busy: boolean; error: string | undefined; saved: boolean } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [saved, setSaved] = useState(false);
  const run = async (act: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      await act();
      setSaved(true);
      done();
      return true;
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, saved };
}
