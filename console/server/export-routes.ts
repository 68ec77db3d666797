import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../../base/node/logger.js';
import { EXPORT_HEADERS, EXPORT_ID_PATTERN, EXPORT_MAX_BYTES, EXPORT_UPLOAD_PATH } from '../../base/node/export-upload.js';
import { ExportRefusal, type HubExports, type ReceivedExport } from '../../sync/hub/exports.js';
import type { ConsoleStore } from './accounts.js';
import { ALL_ROLES, errorSchema, orgScope } from './scope.js';

/** Uploads one kiosk may make a minute: a supervisor sends a few exports a day, retries included. */
const UPLOADS_PER_MINUTE = 30;

const exportJson = {
  type: 'object',
  properties: {
    exportId: { type: 'string' },
    deviceId: { type: 'string' },
    siteId: { type: ['string', 'null'] },
    checkpointId: { type: ['string', 'null'] },
    orgIds: { type: 'array', items: { type: 'string' } },
    supervisorId: { type: 'string' },
    supervisorName: { type: 'string' },
    fileName: { type: 'string' },
    format: { type: 'string' },
    rows: { type: 'integer' },
    madeMs: { type: 'integer' },
    receivedMs: { type: 'integer' },
    size: { type: 'integer' },
  },
} as const;

/**
 * Exports supervisors send from kiosks (sync/hub/exports.ts): the device's signed upload, which
 * carries no session and no CSRF token (access 'device': the signature is the credential), and the
 * console's list and download. A manager sees the exports of the checkpoints serving their
 * organisation only; another's is 404 and written to the audit trail as refused. The audit trail
 * names the device, the export id, its rows and size, never a worker or the supervisor.
 */
export function registerExportRoutes(app: FastifyInstance, exports: HubExports, accounts: ConsoleStore, log: Logger, now: () => number): void {
  const audit = (req: FastifyRequest, account: string, action: string, target: string, outcome: 'ok' | 'refused' | 'failed') =>
    void accounts
      .audit({ at: new Date(now()).toISOString(), account, action, target, outcome, ip: req.ip })
      .catch((err: unknown) => log.error({ err: (err as Error).message }, 'audit entry not written'));

  void app.register(async (scope) => {
    // The registry's list upload may take octet-stream at the root too: here it is the export, up to its own limit.
    if (scope.hasContentTypeParser('application/octet-stream')) scope.removeContentTypeParser('application/octet-stream');
    scope.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: EXPORT_MAX_BYTES }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
      const device = typeof req.headers[EXPORT_HEADERS.device] === 'string' ? (req.headers[EXPORT_HEADERS.device] as string).slice(0, 64) : '-';
      const tooLarge = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE';
      const status = tooLarge ? 413 : (err.statusCode ?? 500);
      const message = tooLarge
        ? `the export is larger than the hub takes (${EXPORT_MAX_BYTES / 1024 / 1024} MiB): export a shorter period`
        : status >= 500
          ? 'internal error'
          : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'send the file as application/octet-stream'
            : err.message;
      if (status >= 500) log.error({ err: err.message }, 'export upload failed');
      audit(req, `device:${device}`, 'export upload', message, status >= 500 ? 'failed' : 'refused');
      return reply.code(status).send({ error: message });
    });
    scope.post(
      EXPORT_UPLOAD_PATH,
      {
        bodyLimit: EXPORT_MAX_BYTES,
        config: { access: 'device', rateLimit: { max: UPLOADS_PER_MINUTE, timeWindow: 60_000 } },
        schema: { response: { '2xx': { type: 'object', properties: { status: { type: 'string' }, exportId: { type: 'string' } } }, '4xx': errorSchema } },
      },
      async (req, reply) => {
        const device = String(req.headers[EXPORT_HEADERS.device] ?? '-').slice(0, 64);
        if (!Buffer.isBuffer(req.body)) return reply.code(415).send({ error: 'send the file as application/octet-stream' });
        let r: Awaited<ReturnType<HubExports['receive']>>;
        try {
          r = await exports.receive(req.headers, req.body);
        } catch (err) {
          if (!(err instanceof ExportRefusal)) throw err;
          audit(req, `device:${device}`, 'export upload', err.message, 'refused');
          return reply.code(err.status).send({ error: err.message });
        }
        const e = r.export;
        audit(req, `device:${device}`, r.stored ? 'export received' : 'export received again', `export ${e.exportId}: ${e.format}, ${e.rows} rows, ${e.size} bytes, checkpoint ${e.checkpointId ?? '-'}`, 'ok');
        return reply.code(r.stored ? 201 : 200).send({ status: r.stored ? 'stored' : 'already-stored', exportId: e.exportId });
      },
    );
  });

  app.get(
    '/api/exports',
    { config: { access: ALL_ROLES }, schema: { response: { 200: { type: 'array', items: exportJson } } } },
    async (req, reply) => reply.send((await exports.list(orgScope(req))) satisfies ReceivedExport[]),
  );

  app.get(
    '/api/exports/:exportId/file',
    {
      config: { access: ALL_ROLES },
      schema: {
        params: { type: 'object', required: ['exportId'], properties: { exportId: { type: 'string', pattern: EXPORT_ID_PATTERN.source } }, additionalProperties: false },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Params: { exportId: string } }>, reply) => {
      const file = await exports.file(req.params.exportId, orgScope(req));
      if (!file) {
        // Another organisation's export looks like none at all, and the attempt is on the record.
        if (await exports.get(req.params.exportId)) audit(req, req.account!.name, 'export download', `export ${req.params.exportId}: not this organisation's`, 'refused');
        return reply.code(404).send({ error: 'no such export' });
      }
      audit(req, req.account!.name, 'export download', `export ${file.export.exportId}: ${file.export.rows} rows`, 'ok');
      return reply
        .header('Content-Disposition', `attachment; filename="${file.export.deviceId}-${file.export.fileName}"`)
        .header('Cache-Control', 'no-store')
        .type(file.export.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
        .send(file.body);
    },
  );
}
