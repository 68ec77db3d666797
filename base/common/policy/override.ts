import type { DenyReason } from '../reasons.js';
import type { Policy } from './policy.js';

/**
 * The gate override: a supervisor lets a refused, named person through with a reason picked from a
 * fixed list (free text optional, required for 'other'). The policy document says which refusals
 * may never be overridden at the gate (by default a confirmed case and an active quarantine); the
 * kiosk refuses such an override whatever a client asks.
 */
export const OVERRIDE_REASON_CODES = [
  'medical-clearance-shown',
  'negative-test-shown',
  'identity-confirmed-by-guard',
  'scanner-fault',
  'pass-renewal-pending',
  'other',
] as const;

export type OverrideReasonCode = (typeof OVERRIDE_REASON_CODES)[number];

/** The words for each reason (the supervisor screen, exports, the audit trail). Vietnamese first. */
export const OVERRIDE_REASONS: Record<OverrideReasonCode, { vi: string; en: string }> = {
  'medical-clearance-shown': { vi: 'Đã xuất trình giấy xác nhận của y tế', en: 'Medical clearance shown' },
  'negative-test-shown': { vi: 'Đã xuất trình kết quả xét nghiệm âm tính', en: 'Negative test result shown' },
  'identity-confirmed-by-guard': { vi: 'Bảo vệ đã xác nhận danh tính', en: 'Identity confirmed by the guard' },
  'scanner-fault': { vi: 'Lỗi máy quét hoặc thiết bị', en: 'Scanner or device fault' },
  'pass-renewal-pending': { vi: 'Thẻ đang được cấp lại', en: 'Pass renewal pending' },
  other: { vi: 'Lý do khác', en: 'Other reason' },
};

/** A note is free text; 'other' needs one, so the reason is never just "other". */
export const OVERRIDE_NOTE_MAX = 500;
export const OTHER_NOTE_MIN = 5;

/** The refusals the default policy never lets a supervisor override at the gate. */
export const DEFAULT_NEVER_OVERRIDABLE: readonly DenyReason[] = ['CASE_F0', 'QUARANTINE_ACTIVE'];

/** The refusals this policy never lets a supervisor override at the gate. */
export function neverOverridable(policy: Policy): readonly DenyReason[] {
  return policy.overrides.neverAtGate;
}

/** The first of these reasons the policy forbids overriding, or null if the policy allows it. */
export function forbiddenOverride(policy: Policy, reasons: readonly DenyReason[]): DenyReason | null {
  const never = neverOverridable(policy);
  return reasons.find((r) => never.includes(r)) ?? null;
}
