import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { KioskApi, VisitorView } from '../../src-main/api/contract.js';
import { formatDateTime } from '../i18n/i18n.js';

/** A burst of scans refreshes the list once; a visitor registered at another moment shows within this. */
const LIVE_REFRESH_MS = 300;
const POLL_MS = 10_000;

const ORDER: Record<VisitorView['state'], number> = { 'pending-approval': 0, inside: 1, approved: 2, refused: 3, left: 4 };

/**
 * Today's visitors at this kiosk, those waiting for approval first, each with Approve and Refuse
 * for the signed-in (named) supervisor. Refreshed on every passage here (a registration, an entry)
 * and every few seconds.
 */
export function VisitorsPanel({ api, token, zone, onError, onMessage }: { api: KioskApi; token: string; zone: string; onError: (e: unknown) => void; onMessage: (m: string) => void }) {
  const { t } = useTranslation();
  const [visitors, setVisitors] = useState<VisitorView[] | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = useCallback(() => {
    api.call('supervisor.visitors', { token }).then((r) => setVisitors(r.visitors), onError);
  }, [api, token, onError]);

  useEffect(() => {
    load();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = api.on('passage', () => {
      clearTimeout(timer);
      timer = setTimeout(load, LIVE_REFRESH_MS);
    });
    const poll = setInterval(load, POLL_MS);
    return () => {
      off();
      clearTimeout(timer);
      clearInterval(poll);
    };
  }, [api, load]);

  const decide = (v: VisitorView, approve: boolean) => {
    setBusy(v.visitorId);
    api
      .call('supervisor.decideVisitor', { token, visitorId: v.visitorId, approve })
      .then(
        (after) => {
          setVisitors((list) => (list ?? []).map((x) => (x.visitorId === after.visitorId ? after : x)));
          onMessage(t(approve ? 'supervisor.visitors.approved' : 'supervisor.visitors.refused', { name: v.name }));
          load();
        },
        onError,
      )
      .finally(() => setBusy(null));
  };

  const rows = [...(visitors ?? [])].sort((a, b) => ORDER[a.state] - ORDER[b.state] || b.registeredAtMs - a.registeredAtMs);
  const waiting = rows.filter((v) => v.state === 'pending-approval').length;
  return (
    <div className="visitors" data-testid="visitors">
      <div className="toolbar">
        <p className="count" data-testid="visitors-count">
          {t('supervisor.visitors.count', { waiting, total: rows.length })}
        </p>
      </div>
      {visitors && rows.length === 0 ? <p>{t('supervisor.visitors.none')}</p> : null}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>{t('supervisor.visitors.columns.name')}</th>
              <th>{t('supervisor.visitors.columns.host')}</th>
              <th>{t('supervisor.visitors.columns.purpose')}</th>
              <th>{t('supervisor.visitors.columns.at')}</th>
              <th>{t('supervisor.visitors.columns.state')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((v) => (
              <tr key={v.visitorId} data-testid="visitor-row" data-state={v.state} className={`visitor-${v.state}`}>
                <td>
                  {v.name}
                  <small className="visitor-kind"> · {t(`supervisor.visitors.kind.${v.credentialKind}`)}</small>
                </td>
                <td>{v.host}</td>
                <td>{v.purpose}</td>
                <td className="when">{formatDateTime(v.registeredAtMs, zone, { date: false })}</td>
                <td className="visitor-state">
                  {t(`supervisor.visitors.state.${v.state}`)}
                  {v.decidedBy ? <small className="override-by"> ({v.decidedBy.name ?? v.decidedBy.supervisorId})</small> : null}
                </td>
                <td className="visitor-actions">
                  {v.state === 'pending-approval' ? (
                    <>
                      <button type="button" className="approve" data-testid="visitor-approve" disabled={busy !== null} onClick={() => decide(v, true)}>
                        {t('supervisor.visitors.approve')}
                      </button>
                      <button type="button" className="refuse" data-testid="visitor-refuse" disabled={busy !== null} onClick={() => decide(v, false)}>
                        {t('supervisor.visitors.refuse')}
                      </button>
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
