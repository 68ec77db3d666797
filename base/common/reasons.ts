/**
 * Every reason a checkpoint can refuse someone, with the words shown to them. Codes are stable: they
 * are stored in the event log, sent to the hub and used in policy rules.
 *
 * `sensitive` marks reasons that disclose health status; a screen in a public place may show those
 * only to the person concerned (the screens decide how).
 */
export const DENY_REASONS = {
  MALFORMED_CODE: {
    sensitive: false,
    vi: 'Mã không hợp lệ hoặc không đọc được',
    en: 'The code is not valid or could not be read',
  },
  UNKNOWN_KEY: {
    sensitive: false,
    vi: 'Thẻ được ký bằng khóa không được tin cậy',
    en: 'The pass is signed by a key this checkpoint does not trust',
  },
  BAD_SIGNATURE: {
    sensitive: false,
    vi: 'Chữ ký của thẻ không hợp lệ (thẻ giả hoặc bị sửa)',
    en: 'The pass signature is not valid (forged or altered)',
  },
  PASS_EXPIRED: { sensitive: false, vi: 'Thẻ đã hết hạn', en: 'The pass has expired' },
  PASS_NOT_YET_VALID: { sensitive: false, vi: 'Thẻ chưa đến thời gian hiệu lực', en: 'The pass is not valid yet' },
  UNKNOWN_WORKER: {
    sensitive: false,
    vi: 'Không có tên trong danh sách người lao động',
    en: 'Not on the worker roster',
  },
  BADGE_NOT_ACCEPTED: {
    sensitive: false,
    vi: 'Điểm kiểm soát này không chấp nhận thẻ nhân viên in sẵn, hãy dùng mã QR',
    en: 'Printed badges are not accepted here; please show your QR pass',
  },
  DECLARATION_MISSING: {
    sensitive: true,
    vi: 'Chưa có khai báo y tế còn hiệu lực',
    en: 'No recent health declaration',
  },
  DECLARATION_FLAGGED: {
    sensitive: true,
    vi: 'Khai báo y tế có dấu hiệu cần kiểm tra',
    en: 'The health declaration needs checking',
  },
  CASE_F0: { sensitive: true, vi: 'Đang là ca bệnh (F0)', en: 'Confirmed case (F0)' },
  QUARANTINE_ACTIVE: { sensitive: true, vi: 'Đang trong thời gian cách ly', en: 'Under quarantine' },
  F1_TEST_REQUIRED: {
    sensitive: true,
    vi: 'Tiếp xúc gần (F1) cần kết quả xét nghiệm âm tính gần đây',
    en: 'Close contact (F1): a recent negative test is required',
  },
  VACCINATION_INSUFFICIENT: { sensitive: true, vi: 'Chưa đủ số mũi vắc-xin', en: 'Not enough vaccine doses' },
  ANTI_PASSBACK: {
    sensitive: false,
    vi: 'Đã quét vào nhưng chưa quét ra',
    en: 'Already inside: no exit recorded since the last entry',
  },
  STORE_UNAVAILABLE: {
    sensitive: false,
    vi: 'Lỗi lưu trữ của thiết bị, không thể ghi nhận lượt quét; vui lòng báo quản lý',
    en: 'Device storage error: the scan could not be recorded; please call a supervisor',
  },
  // New codes go at the end: their position is their bit in uplink batches.
  DATA_TOO_OLD: {
    sensitive: false,
    vi: 'Dữ liệu trên thiết bị đã quá cũ (chưa cập nhật từ hệ thống); vui lòng báo quản lý',
    en: 'This device\'s data is out of date (no update from the hub); please call a supervisor',
  },
  PASS_REVOKED: { sensitive: false, vi: 'Thẻ đã bị thu hồi', en: 'The pass has been revoked' },
  /** On an allow event: a supervisor let a denied person through, with a written reason. */
  SUPERVISOR_OVERRIDE: {
    sensitive: false,
    vi: 'Quản lý cho phép vào (ngoại lệ có ghi lý do)',
    en: 'Let through by a supervisor (exception with a written reason)',
  },
} as const satisfies Record<string, { sensitive: boolean; vi: string; en: string }>;

export type DenyReason = keyof typeof DENY_REASONS;

export const DENY_REASON_CODES = Object.keys(DENY_REASONS) as DenyReason[];

export function isDenyReason(s: string): s is DenyReason {
  return Object.hasOwn(DENY_REASONS, s);
}
