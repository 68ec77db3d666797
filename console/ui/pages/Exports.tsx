import { useTranslation } from 'react-i18next';
import { Refusal, Table, useLoad } from '../parts.js';

/** An export a supervisor sent from a kiosk, as GET /api/exports lists it (console/server/export-routes.ts). */
interface ReceivedExport {
  exportId: string;
  deviceId: string;
  siteId: string | null;
  checkpointId: string | null;
  orgIds: string[];
  supervisorId: string;
  supervisorName: string;
  fileName: string;
  format: 'csv' | 'xlsx';
  rows: number;
  madeMs: number;
  receivedMs: number;
  size: number;
}

/**
 * Entry-log exports supervisors sent from kiosks: which device, site and supervisor, when, how many
 * rows and how big, each downloadable. A manager's list holds only the exports of gates serving
 * their organisation (the server decides); health officers read them too.
 */
export function ExportsPage() {
  const { t, i18n } = useTranslation();
  const exports = useLoad<ReceivedExport[]>('/api/exports');
  const when = (ms: number) => new Date(ms).toLocaleString(i18n.language === 'en' ? 'en-GB' : 'vi-VN');
  const size = (bytes: number) => (bytes < 1024 * 1024 ? t('exports.kb', { count: Math.max(1, Math.round(bytes / 1024)) }) : t('exports.mb', { count: Math.round((bytes / 1024 / 1024) * 10) / 10 }));
  return (
    <section aria-labelledby="exports-heading" data-testid="exports-page">
      <h2 id="exports-heading">{t('exports.heading')}</h2>
      <p>{t('exports.intro')}</p>
      <Refusal error={exports.error} />
      {exports.data?.length === 0 && <p>{t('common.none')}</p>}
      <Table
        label={t('exports.heading')}
        testId="exports"
        head={[t('exports.device'), t('common.site'), t('common.checkpoint'), t('exports.supervisor'), t('exports.received'), t('exports.rows'), t('exports.size'), t('exports.file')]}
      >
        {exports.data?.map((e) => (
          <tr key={e.exportId}>
            <td>{e.deviceId}</td>
            <td>{e.siteId ?? '—'}</td>
            <td>{e.checkpointId ?? '—'}</td>
            <td>
              {e.supervisorName} ({e.supervisorId})
            </td>
            <td>{when(e.receivedMs)}</td>
            <td>{e.rows}</td>
            <td>{size(e.size)}</td>
            <td>
              <a href={`/api/exports/${encodeURIComponent(e.exportId)}/file`} download={`${e.deviceId}-${e.fileName}`} data-testid="export-download">
                {t('exports.download', { file: e.fileName })}
              </a>
            </td>
          </tr>
        ))}
      </Table>
    </section>
  );
}
