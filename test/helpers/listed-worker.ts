import type { ListedWorker } from '../../sync/hub/registry-upload.js';

/** A row of an organisation's CV 2242 list as the upload parser gives it (hub-only fields filled in). */
export function listedWorker(workerId: string, nowMs: number, siteId: string | null = null): ListedWorker {
  return { line: 2, workerId, fullName: `Công nhân ${workerId}`, birthYear: 1990, sex: 'female', idNumber: '079190000001', phone: '0912345601', residence: 'Thủ Đức', team: 'Tổ 1', siteId, testResult: 'negative', testedAtMs: nowMs - 3_600_000, vaccineDoses: 2 };
}
