import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { KioskApi, Results, SelftestResult } from '../../src-main/api/contract.js';
import { formatDateTime } from '../i18n/i18n.js';

/**
 * The Self-test tab: the kiosk runs `safegate selftest`'s checks on its own live objects and lists
 * them, worst first in colour, each with what the guard can do (in the screen's language) and the
 * technical detail for IT (the core's words, in English).
 */
export function SelftestPanel({ api, token, zone, onError }: { api: KioskApi; token: string; zone: string; onError: (e: unknown) => void }) {
  const { t } = useTranslation();
  const [answer, setAnswer] = useState<Results['supervisor.selftest'] | null>(null);
  const [running, setRunning] = useState(false);

  const run = () => {
    setRunning(true);
    api
      .call('supervisor.selftest', { token })
      .then(setAnswer, onError)
      .finally(() => setRunning(false));
  };

  const count = (s: SelftestResult['status']) => answer?.results.filter((r) => r.status === s).length ?? 0;
  return (
    <div className="selftest" data-testid="selftest">
      <div className="toolbar">
        <button type="button" data-testid="selftest-run" disabled={running} onClick={run}>
          {running ? t('selftest.running') : answer ? t('selftest.again') : t('selftest.run')}
        </button>
        {answer ? (
          <p className="count" data-testid="selftest-summary">
            {t('selftest.counts', { pass: count('pass'), warn: count('warn'), fail: count('fail') })} · {t('selftest.ranAt', { when: formatDateTime(answer.atMs, zone) })}
          </p>
        ) : (
          <p className="selftest-intro">{t('selftest.intro')}</p>
        )}
      </div>
      {answer ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t('selftest.columns.check')}</th>
                <th>{t('selftest.columns.status')}</th>
                <th>{t('selftest.columns.what')}</th>
              </tr>
            </thead>
            <tbody>
              {answer.results.map((r) => (
                <tr key={r.check} data-testid="selftest-row" data-check={r.check} data-status={r.status} className={`selftest-${r.status}`}>
                  <td className="selftest-check">{t(`selftest.checks.${r.check}`)}</td>
                  <td className="selftest-status">
                    <span className={`badge badge-${r.status}`}>{t(`selftest.status.${r.status}`)}</span>
                  </td>
                  <td>
                    {r.status !== 'pass' ? <div className="selftest-todo">{t(`selftest.todo.${r.check}`)}</div> : null}
                    <small className="selftest-detail" title={t('selftest.details')}>
                      {r.detail}
                      {r.action ? ` — ${r.action}` : ''}
                    </small>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
