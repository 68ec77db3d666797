/**
 * Every reason a checkpoint can refuse someone, with the words shown to them. Codes are stable: they
 * are stored in the event log, sent to the hub and used in policy rules.
 *
 * `sensitive` marks reasons that disclose health status; a screen in a public place may show those
 * only to the person concerned (the screens decide how).
 *
 * `category` says what kind of refusal it is: `credential` (what was shown is refused for what it
 * is: malformed, unknown key, forged, expired, revoked, a badge where badges are not accepted, a
 * person not on the roster), `health` (the person's health status; all `sensitive`), `procedure`
 * (anti-passback, an override) or `device` (the device cannot decide safely). A credential refused
 * for what it is is decided on that alone: no health rule runs and no health alert is raised.
 */
export type ReasonCategory = 'credential' | 'health' | 'procedure' | 'device';

export const DENY_REASONS = {
  MALFORMED_CODE: {
    category: 'credential', sensitive: false,
    vi: 'Mã không hợp lệ hoặc không đọc được',
    en: 'The code is not valid or could not be read',
  },
  UNKNOWN_KEY: {
    category: 'credential', sensitive: false,
    vi: 'Thẻ được ký bằng khóa không được tin cậy',
    en: 'The pass is signed by a key this checkpoint does not trust',
  },
  BAD_SIGNATURE: {
    category: 'credential', sensitive: false,
    vi: 'Chữ ký của thẻ không hợp lệ (thẻ giả hoặc bị sửa)',
    en: 'The pass signature is not valid (forged or altered)',
  },
  PASS_EXPIRED: { category: 'credential', sensitive: false, vi: 'Thẻ đã hết hạn', en: 'The pass has expired' },
  PASS_NOT_YET_VALID: { category: 'credential', sensitive: false, vi: 'Thẻ chưa đến thời gian hiệu lực', en: 'The pass is not valid yet' },
  UNKNOWN_WORKER: {
    category: 'credential', sensitive: false,
    vi: 'Không có tên trong danh sách người lao động',
    en: 'Not on the worker roster',
  },
  BADGE_NOT_ACCEPTED: {
    category: 'credential', sensitive: false,
    vi: 'Điểm kiểm soát này không chấp nhận thẻ nhân viên in sẵn, hãy dùng mã QR',
    en: 'Printed badges are not accepted here; please show your QR pass',
  },
  DECLARATION_MISSING: {
    category: 'health', sensitive: true,
    vi: 'Chưa có khai báo y tế còn hiệu lực',
    en: 'No recent health declaration',
  },
  DECLARATION_FLAGGED: {
    category: 'health', sensitive: true,
    vi: 'Khai báo y tế có dấu hiệu cần kiểm tra',
    en: 'The health declaration needs checking',
  },
  CASE_F0: { category: 'health', sensitive: true, vi: 'Đang là ca bệnh (F0)', en: 'Confirmed case (F0)' },
  QUARANTINE_ACTIVE: { category: 'health', sensitive: true, vi: 'Đang trong thời gian cách ly', en: 'Under quarantine' },
  F1_TEST_REQUIRED: {
    category: 'health', sensitive: true,
    vi: 'Tiếp xúc gần (F1) cần kết quả xét nghiệm âm tính gần đây',
    en: 'Close contact (F1): a recent negative test is required',
  },
  VACCINATION_INSUFFICIENT: { category: 'health', sensitive: true, vi: 'Chưa đủ số mũi vắc-xin', en: 'Not enough vaccine doses' },
  ANTI_PASSBACK: {
    category: 'procedure', sensitive: false,
    vi: 'Đã quét vào nhưng chưa quét ra',
    en: 'Already inside: no exit recorded since the last entry',
  },
  STORE_UNAVAILABLE: {
    category: 'device', sensitive: false,
    vi: 'Lỗi lưu trữ của thiết bị, không thể ghi nhận lượt quét; vui lòng báo quản lý',
    en: 'Device storage error: the scan could not be recorded; please call a supervisor',
  },
  // New codes go at the end: their position is their bit in uplink batches.
  DATA_TOO_OLD: {
    category: 'device', sensitive: false,
    vi: 'Dữ liệu trên thiết bị đã quá cũ (chưa cập nhật từ hệ thống); vui lòng báo quản lý',
    en: 'This device\'s data is out of date (no update from the hub); please call a supervisor',
  },
  PASS_REVOKED: { category: 'credential', sensitive: false, vi: 'Thẻ đã bị thu hồi', en: 'The pass has been revoked' },
  /** On an allow event: a supervisor let a denied person through, with a written reason. */
  SUPERVISOR_OVERRIDE: {
    category: 'procedure', sensitive: false,
    vi: 'Quản lý cho phép vào (ngoại lệ có ghi lý do)',
    en: 'Let through by a supervisor (exception with a written reason)',
  },
  // The gate's own inputs (source `input`): never a scan's result, never on the result screen.
  /** On an allow event after an admit: the passage sensor saw the person go through in time. */
  PASSED: { category: 'procedure', sensitive: false, vi: 'Đã đi qua cổng', en: 'Went through the gate' },
  /** On a deny event after an admit: the gate opened but the passage sensor saw nobody go through in time. */
  ADMITTED_NOT_PASSED: {
    category: 'procedure', sensitive: false,
    vi: 'Được phép vào nhưng không đi qua cổng',
    en: 'Admitted but did not go through the gate',
  },
  /** The emergency release (e.g. the fire panel) holds the gate open; scans are still decided and logged. */
  EMERGENCY_OPEN: {
    category: 'device', sensitive: false,
    vi: 'Mở cổng khẩn cấp (báo cháy): cổng luôn mở',
    en: 'Emergency release (fire alarm): the gate is held open',
  },
  EMERGENCY_CLEARED: {
    category: 'device', sensitive: false,
    vi: 'Hết tình trạng khẩn cấp: cổng hoạt động bình thường',
    en: 'Emergency release cleared: the gate works normally again',
  },
  /** A phone-bound pass whose phone proof is older than the policy's limit: a screenshot, or a page not refreshed. */
  PASS_STALE: {
    category: 'credential', sensitive: false,
    vi: 'Mã trên điện thoại đã cũ (có thể là ảnh chụp màn hình)',
    en: 'The code on the phone is out of date (it may be a screenshot)',
  },
  /** A phone proof dated further ahead of the kiosk's clock than the policy tolerates. */
  PHONE_CLOCK_AHEAD: {
    category: 'credential', sensitive: false,
    vi: 'Giờ trên điện thoại không đúng (chạy nhanh hơn giờ thực)',
    en: 'The phone\'s clock is wrong (it runs ahead of the real time)',
  },
  /** A printed (static) pass at a checkpoint whose policy accepts only phone-bound passes. */
  PHONE_PASS_REQUIRED: {
    category: 'credential', sensitive: false,
    vi: 'Điểm kiểm soát này chỉ nhận thẻ trên điện thoại, không nhận thẻ in',
    en: 'Only the pass on your phone is accepted here, not a printed one',
  },
  /** The kiosk's own clock is not verified and the policy says not to judge phone passes by it. */
  CLOCK_UNVERIFIED: {
    category: 'device', sensitive: false,
    vi: 'Đồng hồ của thiết bị chưa được xác thực, không kiểm tra được thẻ trên điện thoại; vui lòng báo quản lý',
    en: 'This device\'s clock is not verified, so phone passes cannot be checked; please call a supervisor',
  },
  /** A valid pass of a worker whose organisation this checkpoint does not serve (policy fact worker.servedHere). */
  WORKER_NOT_SERVED: {
    category: 'procedure', sensitive: false,
    vi: 'Cổng này không dành cho đơn vị của bạn',
    en: 'This checkpoint does not serve your organisation',
  },
  // Bus units (issue 13, base/common/bus.ts).
  /** Boarding refused: riders aboard already fill the bus's capacity (policy rule bus-not-full). */
  BUS_FULL: { category: 'procedure', sensitive: false, vi: 'Xe đã đủ chỗ', en: 'The bus is full' },
  /** Boarding refused: the trip's route has a rider list and the rider is not on it (policy rule rider-on-route). */
  WRONG_ROUTE: {
    category: 'procedure', sensitive: false,
    vi: 'Bạn không có tên trong danh sách của tuyến xe này',
    en: 'You are not on this route\'s rider list',
  },
  // A trip's own events (source `trip`): never a scan's result.
  /** On the event that opens a trip (by a driver card, the driver screen's button, the command, or a rider's first scan). */
  TRIP_STARTED: { category: 'procedure', sensitive: false, vi: 'Bắt đầu chuyến xe', en: 'Trip started' },
  /** On the event that closes a trip by the driver (card, button or command). */
  TRIP_ENDED: { category: 'procedure', sensitive: false, vi: 'Kết thúc chuyến xe', en: 'Trip ended' },
  /** On the event that closes a trip left open longer than the unit's bus.autoEndMinutes. */
  TRIP_ENDED_TIMEOUT: {
    category: 'procedure', sensitive: false,
    vi: 'Chuyến xe tự kết thúc (quá thời gian)',
    en: 'Trip ended by itself (open too long)',
  },
  /** On the event that closes a trip when the bus stopped at its depot (the geofence). */
  TRIP_ENDED_AT_DEPOT: {
    category: 'procedure', sensitive: false,
    vi: 'Chuyến xe kết thúc khi xe về bãi',
    en: 'Trip ended: the bus is back at the depot',
  },
  /** On an exit of a rider still aboard when the trip ended: recorded as such, never as a scan. */
  ALIGHTED_AT_TRIP_END: {
    category: 'procedure', sensitive: false,
    vi: 'Xuống xe khi kết thúc chuyến (không quét ra)',
    en: 'Alighted when the trip ended (did not scan out)',
  },
  // The gate for everyone (issue 14): visitors and health certificates (base/common/visitor.ts).
  /** On a `visitor` event: a visitor agreed to the notice and registered (name and visit). */
  VISITOR_REGISTERED: { category: 'procedure', sensitive: false, vi: 'Khách đã đăng ký', en: 'Visitor registered' },
  /** On a `visitor` event: a named supervisor approved the visitor. */
  VISITOR_APPROVED: { category: 'procedure', sensitive: false, vi: 'Quản lý đã duyệt khách', en: 'Visitor approved by a supervisor' },
  /** On a `visitor` deny event: a named supervisor refused the visitor; on their later scans too. */
  VISITOR_REFUSED: { category: 'procedure', sensitive: false, vi: 'Quản lý không duyệt khách', en: 'The visit was not approved' },
  /** A registered visitor's entry before a supervisor approved them (the policy asks for approval). */
  VISITOR_APPROVAL_PENDING: {
    category: 'procedure', sensitive: false,
    vi: 'Đang chờ quản lý duyệt, vui lòng chờ',
    en: 'Waiting for a supervisor to approve your visit',
  },
  /** A visitor's card or certificate where no visit is registered and none can be (an exit, a unit without a screen). */
  VISITOR_NOT_REGISTERED: {
    category: 'credential', sensitive: false,
    vi: 'Khách chưa đăng ký, vui lòng đăng ký tại cổng có màn hình',
    en: 'Visitor not registered: please register at a gate with a screen',
  },
  /** A health certificate (HC1) that does not verify: format, signer, signature or expiry (the detail says which). */
  CERTIFICATE_INVALID: {
    category: 'credential', sensitive: false,
    vi: 'Chứng nhận y tế không hợp lệ',
    en: 'The health certificate is not valid',
  },
  /** A valid health certificate that the policy's certificate rules do not accept (vaccination, test or recovery). */
  CERTIFICATE_NOT_ACCEPTED: {
    category: 'health', sensitive: true,
    vi: 'Chứng nhận y tế không đáp ứng quy định',
    en: 'The health certificate does not meet the rules',
  },
} as const satisfies Record<string, { category: ReasonCategory; sensitive: boolean; vi: string; en: string }>;

export type DenyReason = keyof typeof DENY_REASONS;

export const DENY_REASON_CODES = Object.keys(DENY_REASONS) as DenyReason[];

export function isDenyReason(s: string): s is DenyReason {
  return Object.hasOwn(DENY_REASONS, s);
}

export function reasonCategory(reason: DenyReason): ReasonCategory {
  return DENY_REASONS[reason].category;
}

export function isSensitive(reason: DenyReason): boolean {
  return DENY_REASONS[reason].sensitive;
}
