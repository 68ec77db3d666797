import type { Lang } from './messages.js';

/** The check-in tab's words, Vietnamese first. */
const vi = {
  heading: 'Điểm danh',
  intro: 'Quét mã QR dán tại tổ, nhà ăn, khu nghỉ hoặc trên xe. Quét lại cùng mã khi rời đi để điểm danh ra.',
  scan: 'Quét mã bằng máy ảnh',
  stop: 'Dừng quét',
  photo: 'Hoặc chọn ảnh chụp mã',
  pointCamera: 'Đưa mã QR vào khung hình',
  noCamera: 'Không mở được máy ảnh: hãy cho phép trang dùng máy ảnh, hoặc chọn ảnh chụp mã.',
  notCode: 'Đây không phải mã điểm danh SafeGate.',
  noQr: 'Không tìm thấy mã QR trong ảnh.',
  checkedIn: 'Đã điểm danh vào: {place} lúc {time}.',
  checkedOut: 'Đã điểm danh ra: {place} lúc {time}.',
  queued: 'Chưa có mạng: lượt điểm danh đã lưu trên điện thoại và sẽ tự gửi khi có mạng.',
  sent: 'Đã gửi lên hệ thống.',
  refused: 'Hệ thống không nhận lượt điểm danh: {error}',
  open: 'Đang ở: {place} (quét lại mã này khi rời đi).',
};

type CheckinMessages = typeof vi;

const en: CheckinMessages = {
  heading: 'Check-in',
  intro: 'Scan the QR code posted at your team, canteen, rest area or bus. Scan the same code again when you leave to check out.',
  scan: 'Scan with the camera',
  stop: 'Stop scanning',
  photo: 'Or choose a photo of the code',
  pointCamera: 'Point the camera at the QR code',
  noCamera: 'The camera cannot be opened: allow this page to use it, or choose a photo of the code.',
  notCode: 'This is not a SafeGate check-in code.',
  noQr: 'No QR code found in the photo.',
  checkedIn: 'Checked in: {place} at {time}.',
  checkedOut: 'Checked out: {place} at {time}.',
  queued: 'Offline: the check-in is kept on this phone and will be sent when you are online.',
  sent: 'Sent to the system.',
  refused: 'The system did not take the check-in: {error}',
  open: 'You are at: {place} (scan this code again when you leave).',
};

export const CHECKIN_MESSAGES: Record<Lang, CheckinMessages> = { vi, en };
