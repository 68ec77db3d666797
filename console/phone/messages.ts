/** The phone page's words, Vietnamese first. `{x}` marks a value put in. */
export type Lang = 'vi' | 'en';

const vi = {
  title: 'Thẻ ra vào SafeGate',
  language: 'English',
  loading: 'Đang tải…',
  tabs: { pass: 'Thẻ', declaration: 'Khai báo y tế', checkin: 'Điểm danh' },
  soon: 'Chức năng này sẽ có trong bản cập nhật tới.',
  notice: {
    heading: 'Thông báo xử lý dữ liệu cá nhân',
    law: 'Theo Nghị định 13/2023/NĐ-CP về bảo vệ dữ liệu cá nhân',
    forWhom: 'Liên kết này dành cho: {name} ({org}).',
    what: 'Dữ liệu được xử lý: họ tên, mã người lao động và đơn vị của bạn; một khóa số do chính điện thoại này tạo ra (khóa bí mật không bao giờ rời khỏi điện thoại); thời điểm bạn quét thẻ tại các điểm kiểm soát; tờ khai y tế hằng ngày của bạn (dữ liệu sức khỏe, là dữ liệu nhạy cảm: hệ thống chỉ giữ thời điểm khai và có câu trả lời "Có" hay không; các câu trả lời của tờ khai có "Có" được giữ 14 ngày cho cán bộ y tế rồi xóa).',
    why: 'Mục đích: kiểm soát ra vào nơi làm việc và truy vết phòng, chống dịch theo hướng dẫn của tỉnh. Không dùng cho mục đích khác.',
    howLong: 'Thời gian lưu: thẻ và khóa nằm trên điện thoại này đến khi thẻ hết hạn hoặc bạn xóa dữ liệu trang; lượt ra vào được lưu tại hệ thống của tỉnh trong thời hạn tỉnh quy định rồi được xóa.',
    rights: 'Quyền của bạn: được biết, đồng ý hoặc không đồng ý, xem, yêu cầu chỉnh sửa, xóa, hạn chế xử lý dữ liệu của mình và khiếu nại. Liên hệ bộ phận nhân sự của {org} để thực hiện.',
    who: 'Bên xử lý: {org} và hệ thống SafeGate của tỉnh. Hệ thống không gửi tin nhắn và không bán dữ liệu.',
    accept: 'Tôi đã đọc và đồng ý',
    decline: 'Không đồng ý',
    declined: 'Bạn chưa đồng ý nên thẻ chưa được cấp. Bạn có thể mở lại liên kết nếu đổi ý, hoặc dùng thẻ in do đơn vị cấp.',
  },
  binding: 'Đang tạo khóa và nhận thẻ…',
  pass: {
    show: 'Đưa mã này vào máy quét',
    refresh: 'Mã mới sau {s} giây',
    brightness: 'Tăng độ sáng màn hình lên tối đa để máy quét đọc nhanh hơn',
    fullscreen: 'Toàn màn hình',
    expires: 'Thẻ có hiệu lực đến {date}',
    expired: 'Thẻ đã hết hạn: xin đơn vị một liên kết mới',
    offline: 'Đang ngoại tuyến: thẻ vẫn dùng được',
  },
  none: 'Điện thoại này chưa có thẻ. Hãy mở liên kết mà đơn vị gửi cho bạn.',
  refused: {
    unknown: 'Liên kết không hợp lệ. Hãy kiểm tra lại liên kết hoặc xin đơn vị một liên kết mới.',
    used: 'Liên kết này đã được dùng. Mỗi liên kết chỉ dùng một lần: xin đơn vị một liên kết mới.',
    expired: 'Liên kết đã hết hạn: xin đơn vị một liên kết mới.',
    retired: 'Đơn vị đã gửi cho bạn một liên kết mới hơn: hãy dùng liên kết đó.',
    left: 'Bạn không còn trong danh sách của đơn vị đã gửi liên kết này, nên liên kết không dùng được nữa. Hãy hỏi đơn vị của bạn.',
    network: 'Không kết nối được với hệ thống. Hãy thử lại khi có mạng.',
    other: 'Không nhận được thẻ: {error}',
    noCrypto: 'Trình duyệt này không tạo được khóa an toàn. Hãy mở liên kết bằng Chrome hoặc Safari bản mới.',
  },
  retry: 'Thử lại',
};

type Messages = typeof vi;

const en: Messages = {
  title: 'SafeGate pass',
  language: 'Tiếng Việt',
  loading: 'Loading…',
  tabs: { pass: 'Pass', declaration: 'Health declaration', checkin: 'Check-in' },
  soon: 'This comes in a coming update.',
  notice: {
    heading: 'Personal data notice',
    law: 'Under Decree 13/2023/ND-CP on personal data protection',
    forWhom: 'This link is for: {name} ({org}).',
    what: 'Data processed: your name, worker number and organisation; a digital key this phone makes (its secret half never leaves the phone); the times you scan your pass at checkpoints; your daily health declarations (health data, which is sensitive: the system keeps when you declared and whether any answer was "yes"; the answers of a declaration with a "yes" are kept 14 days for the health officer, then deleted).',
    why: 'Purpose: entry control at your workplace and epidemic contact tracing as the province directs. It is not used for anything else.',
    howLong: "Kept: the pass and key stay on this phone until the pass expires or you clear the page's data; passages are kept by the province's system for the period the province sets, then deleted.",
    rights: 'Your rights: to be informed, to consent or refuse, to see, correct or delete your data, to restrict its processing, and to complain. Ask the HR office of {org}.',
    who: "Processed by: {org} and the province's SafeGate system. The system sends no messages and sells no data.",
    accept: 'I have read this and agree',
    decline: 'I do not agree',
    declined: 'You have not agreed, so no pass was issued. Open the link again if you change your mind, or use the printed pass your organisation gives you.',
  },
  binding: 'Making the key and getting your pass…',
  pass: {
    show: 'Show this code to the scanner',
    refresh: 'New code in {s} s',
    brightness: 'Turn the screen brightness up to full so the scanner reads it faster',
    fullscreen: 'Full screen',
    expires: 'Valid until {date}',
    expired: 'The pass has expired: ask your organisation for a new link',
    offline: 'Offline: the pass still works',
  },
  none: 'This phone has no pass yet. Open the link your organisation sent you.',
  refused: {
    unknown: 'This link is not valid. Check it, or ask your organisation for a new one.',
    used: 'This link has already been used. Each link works once: ask your organisation for a new one.',
    expired: 'This link has expired: ask your organisation for a new one.',
    retired: 'Your organisation sent you a newer link: use that one.',
    left: 'You are no longer on the list of the organisation that sent this link, so it cannot be used. Ask your organisation.',
    network: 'Cannot reach the system. Try again when you are online.',
    other: 'No pass was issued: {error}',
    noCrypto: 'This browser cannot make a secure key. Open the link in an up-to-date Chrome or Safari.',
  },
  retry: 'Try again',
};

export const MESSAGES: Record<Lang, Messages> = { vi, en };

export function fill(text: string, values: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}
